package loop

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var activityLine = regexp.MustCompile(`^([a-z_]+): (\d+) \[ (\d+) (\d+) \]$`)

// I70: the dump has the thread_id and date_now header, then every counter
// as "name: total [ t0 t1 ]"; the counters count what happened.
func TestWriteActivityDump(t *testing.T) {
	l := newTestLoop(t, Config{Threads: 2})
	done := make(chan struct{})
	n := 0
	tk := l.NewTask(func(tk *Task, _ any, _ State) bool {
		if n++; n == 5 {
			close(done)
			return false
		}
		tk.SetExpire(tk.Thread().Now().Add(1))
		return true
	}, nil, l.threads[1].bit)
	wait := runLoop(t, l)
	l.Wakeup(tk, WokenInit)
	<-done
	time.Sleep(5 * time.Millisecond)
	l.Stop()
	require.NoError(t, wait())
	var sb strings.Builder
	require.NoError(t, l.WriteActivity(&sb, 1))
	lines := strings.Split(strings.TrimSuffix(sb.String(), "\n"), "\n")
	require.Greater(t, len(lines), 3)
	assert.Equal(t, "thread_id: 2 (1..2)", lines[0])
	assert.Regexp(t, `^date_now: \d+\.\d{6}$`, lines[1])
	vals := map[string][3]int{}
	var names []string
	for _, line := range lines[2:] {
		m := activityLine.FindStringSubmatch(line)
		require.NotNil(t, m, "line %q", line)
		var v [3]int
		for i := range 3 {
			v[i], _ = strconv.Atoi(m[2+i])
		}
		if m[1] != "avg_loop_us" {
			assert.Equal(t, v[0], v[1]+v[2], "%s total", m[1])
		}
		vals[m[1]] = v
		names = append(names, m[1])
	}
	assert.Equal(t, []string{"ctxsw", "tasksw", "empty_rq", "long_rq", "loops", "wake_tasks", "wake_signal"}, names[:7])
	assert.Equal(t, 5, vals["ctxsw"][2], "five runs on thread 1")
	assert.Zero(t, vals["ctxsw"][1])
	assert.Equal(t, 5, vals["tasksw"][2])
	assert.Greater(t, vals["loops"][1], 0)
	assert.GreaterOrEqual(t, vals["loops"][2], 5)
	assert.Greater(t, vals["empty_rq"][2], 0)
	assert.Equal(t, uint32(vals["loops"][2]), l.threads[1].ctx.Activity.Loops.Load())
}

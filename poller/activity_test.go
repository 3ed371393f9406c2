package poller

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fill gives every counter a distinct value: base+1, base+2, ... in
// "show activity" order.
func fill(a *Activity, base uint32) {
	for i, c := range []interface{ Store(uint32) }{
		&a.CtxSw, &a.TaskSw, &a.EmptyRQ, &a.LongRQ, &a.Loops, &a.WakeTasks, &a.WakeSignal,
		&a.PollIO, &a.PollExp, &a.PollDropFD, &a.PollDeadFD, &a.PollSkipFD, &a.PollStaleFD, &a.PollErrFD,
		&a.AvgLoopUS, &a.Accepted, &a.FDTakeover,
	} {
		c.Store(base + uint32(i) + 1)
	}
}

// The counters of reference §10 that evpoll keeps, in that order, with
// evpoll's poll_stale_fd after poll_skip_fd and avg_loop_us before
// accepted, as HAProxy places it.
var activityOrder = []string{
	"ctxsw", "tasksw", "empty_rq", "long_rq", "loops", "wake_tasks", "wake_signal",
	"poll_io", "poll_exp", "poll_drop_fd", "poll_dead_fd", "poll_skip_fd", "poll_stale_fd", "poll_err_fd",
	"avg_loop_us", "accepted", "fd_takeover",
}

func TestCounters(t *testing.T) {
	var a Activity
	fill(&a, 100)
	var names []string
	for i, c := range a.counters() {
		names = append(names, c.Name)
		if c.Value != 101+uint32(i) {
			t.Errorf("counter %s = %d, want %d (wrong field?)", c.Name, c.Value, 101+i)
		}
	}
	if !slices.Equal(names, activityOrder) {
		t.Errorf("counters() names\n%q\nwant\n%q", names, activityOrder)
	}
}

func TestWriteActivityOneThread(t *testing.T) {
	var a Activity
	fill(&a, 0)
	a.Loops.Store(4)
	var buf bytes.Buffer
	if err := WriteActivity(&buf, &a); err != nil {
		t.Fatal(err)
	}
	want := `ctxsw: 1
tasksw: 2
empty_rq: 3
long_rq: 4
loops: 4
wake_tasks: 6
wake_signal: 7
poll_io: 8
poll_exp: 9
poll_drop_fd: 10
poll_dead_fd: 11
poll_skip_fd: 12
poll_stale_fd: 13
poll_err_fd: 14
avg_loop_us: 15
accepted: 16
fd_takeover: 17
`
	if buf.String() != want {
		t.Errorf("one thread:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestWriteActivityTwoThreads(t *testing.T) {
	var a, b Activity
	// The observed 2-thread sample of reference §10.
	a.Loops.Store(2)
	b.Loops.Store(2)
	a.PollIO.Store(1)
	b.PollIO.Store(1)
	a.EmptyRQ.Store(2)
	b.EmptyRQ.Store(3)
	b.Accepted.Store(1)
	// 32-bit totals wrap like the counters.
	a.CtxSw.Store(0xffffffff)
	b.CtxSw.Store(2)
	var buf bytes.Buffer
	if err := WriteActivity(&buf, &a, &b); err != nil {
		t.Fatal(err)
	}
	want := `ctxsw: 1 [ 4294967295 2 ]
tasksw: 0 [ 0 0 ]
empty_rq: 5 [ 2 3 ]
long_rq: 0 [ 0 0 ]
loops: 4 [ 2 2 ]
wake_tasks: 0 [ 0 0 ]
wake_signal: 0 [ 0 0 ]
poll_io: 2 [ 1 1 ]
poll_exp: 0 [ 0 0 ]
poll_drop_fd: 0 [ 0 0 ]
poll_dead_fd: 0 [ 0 0 ]
poll_skip_fd: 0 [ 0 0 ]
poll_stale_fd: 0 [ 0 0 ]
poll_err_fd: 0 [ 0 0 ]
avg_loop_us: 0 [ 0 0 ]
accepted: 1 [ 0 1 ]
fd_takeover: 0 [ 0 0 ]
`
	if buf.String() != want {
		t.Errorf("two threads:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestWriteActivityThreeThreadsGolden(t *testing.T) {
	var a, b, c Activity
	fill(&a, 0)
	fill(&b, 100)
	fill(&c, 1000)
	var buf bytes.Buffer
	if err := WriteActivity(&buf, &a, &b, &c); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "activity_3threads", buf.Bytes())
}

func TestWriteActivityNoThread(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteActivity(&buf); err != nil || buf.Len() != 0 {
		t.Errorf("no thread: wrote %q, %v; want nothing", buf.String(), err)
	}
}

// nthFailWriter fails its n-th Write (counting from 1) and accepts the
// others.
type nthFailWriter struct {
	n, calls int
	failed   bool
}

var errWrite = errors.New("write failed")

func (w *nthFailWriter) Write(p []byte) (int, error) {
	w.calls++
	if w.calls == w.n {
		w.failed = true
		return 0, errWrite
	}
	return len(p), nil
}

// Whichever write fails, the error is returned.
func TestWriteActivityWriteError(t *testing.T) {
	var a, b Activity
	for n := 1; n <= 200; n++ {
		w := &nthFailWriter{n: n}
		err := WriteActivity(w, &a, &b)
		if w.failed && !errors.Is(err, errWrite) {
			t.Fatalf("write %d failed but WriteActivity returned %v", n, err)
		}
		if !w.failed && err != nil {
			t.Fatalf("no write failed but WriteActivity returned %v", err)
		}
	}
}

func TestFlagsString(t *testing.T) {
	tests := []struct {
		f    Flags
		want string
	}{
		{0, "0"},
		{FlagRDHUP, "RDHUP"},
		{FlagERRHUP, "ERRHUP"},
		{FlagFork, "FORK"},
		{FlagBusyPoll, "BUSYPOLL"},
		{FlagRDHUP | FlagERRHUP, "RDHUP|ERRHUP"},
		{FlagERRHUP | FlagRDHUP | FlagFork, "RDHUP|ERRHUP|FORK"},
		{FlagRDHUP | FlagERRHUP | FlagFork | FlagBusyPoll, "RDHUP|ERRHUP|FORK|BUSYPOLL"},
		{1 << 8, "0x100"},
		{FlagERRHUP | 1<<8 | 1<<31, "ERRHUP|0x80000100"},
	}
	for _, tt := range tests {
		if got := tt.f.String(); got != tt.want {
			t.Errorf("Flags(%#x).String() = %q, want %q", uint32(tt.f), got, tt.want)
		}
	}
	// HAProxy's values.
	if FlagRDHUP != 0x1 || FlagERRHUP != 0x2 {
		t.Errorf("FlagRDHUP %#x, FlagERRHUP %#x; want HAP_POLL_F_RDHUP 0x1, HAP_POLL_F_ERRHUP 0x2", uint32(FlagRDHUP), uint32(FlagERRHUP))
	}
}

// sleepWaiter's kernel wait sleeps for d and reports no event.
type sleepWaiter struct{ d time.Duration }

func (w sleepWaiter) KernelWait(int) (int, error) { time.Sleep(w.d); return 0, nil }

// spin busies the goroutine for d, standing for work between two waits.
func spin(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}

// avg_loop_us averages the time between two kernel waits; idle_pct is the
// share of time spent inside them, published every half second.
func TestLoopTimeAndIdleAccounting(t *testing.T) {
	for _, c := range []struct {
		name             string
		wait, work       time.Duration
		idleMin, idleMax uint32
	}{
		{"MostlyIdle", 50 * time.Millisecond, time.Millisecond, 80, 100},
		{"MostlyBusy", time.Millisecond, 50 * time.Millisecond, 0, 20},
	} {
		t.Run(c.name, func(t *testing.T) {
			tab := fdtable.New(64)
			th, err := tab.NewThread(0)
			require.NoError(t, err)
			ctx := NewContext(th)
			w := sleepWaiter{c.wait}
			for range 14 {
				_, err := ctx.Wait(w, Eternity, false, false)
				require.NoError(t, err)
				spin(c.work)
			}
			pct := ctx.Activity.IdlePct.Load()
			assert.GreaterOrEqual(t, pct, c.idleMin, "idle_pct")
			assert.LessOrEqual(t, pct, c.idleMax, "idle_pct")
			avg := ctx.Activity.AvgLoopUS.Load()
			// The average starts from 0 and moves by 1/1024 of each
			// sample: after 13 samples of at least c.work it is above 0
			// and below c.work.
			assert.Greater(t, avg, uint32(0))
			assert.Less(t, avg, uint32(c.work/time.Microsecond))
		})
	}
}

func TestWriteActivityAveragesAvgLoop(t *testing.T) {
	var a, b Activity
	a.AvgLoopUS.Store(10)
	b.AvgLoopUS.Store(15)
	a.Loops.Store(3)
	b.Loops.Store(4)
	var sb strings.Builder
	require.NoError(t, WriteActivity(&sb, &a, &b))
	assert.Contains(t, sb.String(), "\navg_loop_us: 13 [ 10 15 ]\n", "rounded mean, not a sum")
	assert.Contains(t, sb.String(), "\nloops: 7 [ 3 4 ]\n")
}

package main

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/evpoll/evpoll/internal/fdcount"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var stormLine = regexp.MustCompile(`soak: storm: sent SIGUSR1 (\d+) SIGUSR2 (\d+) SIGWINCH (\d+) in ([\d.]+)s of storm .*; ` +
	`handlers saw SIGUSR1 (\d+) SIGUSR2 (\d+) in \d+ calls; .* paired median ([\d.]+)`)

var idleLine = regexp.MustCompile(`idle 200ms: .* loops quiet (\d+) storm (\d+), (\d+) signals handled`)

// stormFigures returns the numbers of the storm's report line.
func stormFigures(t *testing.T, out string) []float64 {
	t.Helper()
	m := stormLine.FindStringSubmatch(out)
	require.NotNil(t, m, "no storm line in:\n%s", out)
	var f []float64
	for _, s := range m[1:] {
		v, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err)
		f = append(f, v)
	}
	return f
}

// TestStormSoak runs the soak under a storm of 5,000 signals a second on
// every Linux backend: nothing lost (exit 0, bad 0), the child sent
// thousands of each signal, the loop's handlers saw some of each but no
// more than were sent, the CPU per event with the storm stayed within
// twice the quiet one (the median ratio of the pairs of windows), and
// once the messages stopped the sleeping threads still handled signals
// without going round their loops more than once per signal sent.
func TestStormSoak(t *testing.T) {
	bin := build(t)
	for _, backend := range []string{"epoll", "poll", "select"} {
		t.Run("poller="+backend, func(t *testing.T) {
			fdcount.Check(t)
			out, err := exec.Command(bin, "-poller", backend, "-fds", "400", "-duration", "2500ms", "-report", "1s",
				"-storm", "5000", "-storm-window", "200ms").CombinedOutput()
			s := string(out)
			require.Equal(t, 0, exitCode(err), "exit status; output:\n%s", s)
			assert.Contains(t, s, " bad 0 ")
			assert.True(t, strings.HasSuffix(s, "soak: OK\n"), "last line: %q", s)
			f := stormFigures(t, s)
			sent1, sent2, winch, secs, saw1, saw2, ratio := f[0], f[1], f[2], f[3], f[4], f[5], f[6]
			assert.Greater(t, secs, 1.0, "seconds of storm")
			assert.Greater(t, sent1, 1000.0, "SIGUSR1 sent")
			assert.Greater(t, sent2, 500.0, "SIGUSR2 sent")
			assert.Greater(t, winch, 500.0, "SIGWINCH sent")
			assert.Positive(t, saw1, "SIGUSR1 handled")
			assert.Positive(t, saw2, "SIGUSR2 handled")
			assert.LessOrEqual(t, saw1, sent1)
			assert.LessOrEqual(t, saw2, sent2)
			assert.GreaterOrEqual(t, saw1+saw2, secs*100, "at least one per 10 ms of storm")
			assert.LessOrEqual(t, ratio, 2.0, "CPU per event, storm against quiet")
			m := idleLine.FindStringSubmatch(s)
			require.NotNil(t, m, "no idle figures in:\n%s", s)
			loopsQ, _ := strconv.Atoi(m[1])
			loopsS, _ := strconv.Atoi(m[2])
			saw, _ := strconv.Atoi(m[3])
			assert.LessOrEqual(t, loopsS, loopsQ+1100, "loop iterations while idle, storm against quiet")
			assert.Positive(t, saw, "signals handled while idle")
		})
	}
}

// TestStormBusyFails: the busy-loop checks can fail. One debugging flag
// makes every thread burn 10 ms for each batch of signals the loop
// handles: the CPU per event of the storm windows must come out more than
// twice that of the quiet ones. Another keeps every thread from sleeping
// for 50 ms after each batch: while the soak is idle, its threads must be
// found going round their loops far more often under the storm than
// without it. Either way the soak exits 1.
func TestStormBusyFails(t *testing.T) {
	bin := build(t)
	for _, tc := range []struct{ flag, want string }{
		{"-debug-spin=10ms", "FAILED: storm: CPU per event with the storm"},
		{"-debug-nosleep=50ms", "loop iterations in 200ms of storm while idle"},
	} {
		t.Run(strings.TrimPrefix(tc.flag, "-debug-"), func(t *testing.T) {
			out, err := exec.Command(bin, "-poller", "epoll", "-fds", "400", "-duration", "2500ms", "-report", "1s",
				"-storm", "5000", "-storm-window", "200ms", tc.flag).CombinedOutput()
			s := string(out)
			require.Equal(t, 1, exitCode(err), "exit status; output:\n%s", s)
			assert.Contains(t, s, tc.want)
			assert.Contains(t, s, " bad 0 ", "nothing else went wrong")
		})
	}
}

// TestLeakFails: the flatness check can fail. A debugging flag leaks heap
// (4 kB a millisecond on each thread) or goroutines (one per check); the
// soak must name what grew after the warm-up and exit 1.
func TestLeakFails(t *testing.T) {
	bin := build(t)
	for _, tc := range []struct{ kind, want string }{
		{"heap", "FAILED: memory: heap in use reached"},
		{"goroutines", "goroutines after the warm-up"},
	} {
		t.Run("leak="+tc.kind, func(t *testing.T) {
			out, err := exec.Command(bin, "-poller", "epoll", "-fds", "400", "-duration", "2s", "-report", "1s", "-debug-leak", tc.kind).CombinedOutput()
			s := string(out)
			assert.Equal(t, 1, exitCode(err), "exit status; output:\n%s", s)
			assert.Contains(t, s, tc.want)
			assert.Contains(t, s, " bad 0 ", "nothing else went wrong")
		})
	}
}

package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evpoll/evpoll/internal/fdcount"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "soak")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestShortSoak runs the command as a process on every Linux backend for
// a second: it must report, find nothing lost, leak no fd (its own count
// at the end, and the test process's) and exit 0.
func TestShortSoak(t *testing.T) {
	bin := build(t)
	for _, backend := range []string{"epoll", "poll", "select"} {
		t.Run(backend, func(t *testing.T) {
			fdcount.Check(t)
			out, err := exec.Command(bin, "-poller", backend, "-fds", "400", "-duration", "1s", "-report", "300ms").CombinedOutput()
			require.Equal(t, 0, exitCode(err), "exit status; output:\n%s", out)
			s := string(out)
			assert.Contains(t, s, "("+backend+")")
			assert.Contains(t, s, " bad 0 ")
			assert.Contains(t, s, "as at start")
			assert.Regexp(t, `max rss [1-9]\d* kB`, s)
			assert.Contains(t, s, "soak: memory: heap in use max ")
			assert.True(t, strings.HasSuffix(s, "soak: OK\n"), "last line: %q", s)
			assert.GreaterOrEqual(t, strings.Count(s, "rss "), 2, "periodic reports:\n%s", s)
		})
	}
}

// TestBadFlags: each bad flag is named and exits 2.
func TestBadFlags(t *testing.T) {
	bin := build(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-fds", "2"}, "-fds"},
		{[]string{"-events", "0"}, "-events"},
		{[]string{"-threads", "0"}, "-threads"},
		{[]string{"-poller", "nosuch"}, "-poller"},
		{[]string{"-poller", "select", "-fds", "2000"}, "-fds 2000"},
		{[]string{"-fds", "100000000"}, "-fds"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"-storm", "-1"}, "-storm"},
		{[]string{"-storm-window", "0s"}, "-storm-window"},
		{[]string{"-debug-leak", "fds"}, "-debug-leak"},
	} {
		out, err := exec.Command(bin, tc.args...).CombinedOutput()
		assert.Equal(t, 2, exitCode(err), "%v: output %s", tc.args, out)
		assert.Contains(t, string(out), tc.want, "%v", tc.args)
	}
}

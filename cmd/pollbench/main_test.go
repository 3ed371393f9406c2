package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/evpoll/evpoll/internal/fdcount"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// binary is pollbench built by TestMain, run by the tests as a process.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pollbench-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "pollbench")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building pollbench: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		// As goleak.VerifyTestMain: a passing run must leave no goroutine.
		if err := goleak.Find(goleak.IgnoreTopFunction("os/signal.signal_recv")); err != nil {
			fmt.Fprintln(os.Stderr, "goleak: errors on successful test run:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// runPollbench runs the built command; with nofile > 0, under a shell
// that first lowers the open-file limit to nofile.
func runPollbench(t *testing.T, nofile int, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	fdcount.Check(t)
	cmd := exec.Command(binary, args...)
	if nofile > 0 {
		cmd = exec.Command("sh", append([]string{"-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, nofile), binary}, args...)...)
	}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("running pollbench: %v", err)
	}
	return out.String(), errb.String(), code
}

// tiny keeps live runs short.
var tiny = []string{"-writes", "10", "-rounds", "3", "-warmup", "1", "-count", "2"}

func TestBadFlagExitStatus(t *testing.T) {
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"-format", "xml"}, "-format"},
		{[]string{"-active", "200", "-fds", "100"}, "-active"},
		{[]string{"-fds", "0"}, "-fds"},
		{[]string{"-maxtime", "5"}, "-maxtime"},
		{[]string{"-backends", "nosuch"}, "-backends"},
		{[]string{"-baseline", "nosuch"}, "-baseline"},
		{[]string{"-kind", "fifo"}, "-kind"},
		{[]string{"-workload", "foo"}, "-workload"},
		{[]string{"-workload", "echo", "-conns", "0"}, "-conns"},
		{[]string{"-workload", "echo", "-threads", "1,x"}, "-threads"},
		{[]string{"-workload", "echo", "-duration", "0s"}, "-duration"},
		{[]string{"-workload", "echo", "-fds", "100"}, "-fds"},
		{[]string{"-conns", "10"}, "-conns"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			stdout, stderr, code := runPollbench(t, 0, tc.args...)
			assert.Equal(t, 2, code, "exit status")
			assert.Empty(t, stdout)
			assert.Equal(t, 1, strings.Count(stderr, "\n"), "one message, got %q", stderr)
			assert.Equal(t, 1, strings.Count(stderr, tc.flag), "the message names %s once: %q", tc.flag, stderr)
			assert.True(t, strings.HasPrefix(stderr, "pollbench: "), stderr)
		})
	}
}

func TestListExitStatus(t *testing.T) {
	stdout, stderr, code := runPollbench(t, 0, "-list")
	require.Equal(t, 0, code, stderr)
	assert.True(t, strings.HasPrefix(stdout, "Available polling systems :"), stdout)
	assert.Contains(t, stdout, "Baselines: ")
}

// TestRunExitStatus: a small real run exits 0 and ends with the verdict.
func TestRunExitStatus(t *testing.T) {
	stdout, stderr, code := runPollbench(t, 0, append([]string{"-fds", "10,20", "-active", "2"}, tiny...)...)
	require.Equal(t, 0, code, stderr)
	assert.Empty(t, stderr)
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	assert.True(t, strings.HasPrefix(lines[len(lines)-1], "verdict: fastest evpoll backend: "), "last line %q", lines[len(lines)-1])
	assert.Regexp(t, `\nactive=2 +fds=10 +fds=20\n`, stdout)
}

// TestMeasurementFailureExitsOne: fds the process cannot open make the
// run fail with status 1 and a message that says why, after the table.
func TestMeasurementFailureExitsOne(t *testing.T) {
	stdout, stderr, code := runPollbench(t, 40, append([]string{"-fds", "10,100", "-active", "1"}, tiny...)...)
	assert.Equal(t, 1, code, "exit status; stderr %q", stderr)
	assert.Contains(t, stderr, "pollbench: measurement failed: ")
	assert.Contains(t, stderr, "fds=100")
	assert.Contains(t, stderr, "too many open files")
	assert.Equal(t, 1, strings.Count(stderr, "\n"), "one message: %q", stderr)
	assert.Contains(t, stdout, "FAILED", "the table marks the failed cells")
}

// TestSelectSkipSaysWhy: select beyond FD_SETSIZE is a skip explained in
// words, not a failure.
func TestSelectSkipSaysWhy(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("FD_SETSIZE is 1024 on Linux; other systems differ")
	}
	stdout, stderr, code := runPollbench(t, 0, append([]string{"-backends", "select", "-baseline", "raw-poll", "-fds", "1100", "-active", "1"}, tiny...)...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "skipped: select at fds=1100 active=1: select cannot watch fds at or above FD_SETSIZE (1024) on this OS")
}

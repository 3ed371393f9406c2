package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMain lets the test binary act as pollbench when asked to, so the
// tests below can run the real command as a separate process.
func TestMain(m *testing.M) {
	if os.Getenv("POLLBENCH_AS_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func runPollbench(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "POLLBENCH_AS_MAIN=1")
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

func TestBadFlagExitStatus(t *testing.T) {
	_, stderr, code := runPollbench(t, "-format", "xml")
	if code != 2 {
		t.Errorf("exit status = %d, want 2", code)
	}
	if !strings.Contains(stderr, "flag -format") {
		t.Errorf("stderr %q does not name the bad flag", stderr)
	}
}

func TestListExitStatus(t *testing.T) {
	stdout, stderr, code := runPollbench(t, "-list")
	if code != 0 {
		t.Fatalf("exit status = %d, stderr %q", code, stderr)
	}
	if !strings.HasPrefix(stdout, "Available polling systems :") {
		t.Errorf("stdout = %q, want the listing", stdout)
	}
}

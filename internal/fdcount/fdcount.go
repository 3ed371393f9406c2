package fdcount

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// HasProc reports whether /proc lists processes' fds (Linux). Elsewhere
// the test process counts its own in /dev/fd and other processes' fds
// are not counted.
var HasProc = func() bool { _, err := os.Stat("/proc/self/fd"); return err == nil }()

// selfDir is the test process's fd directory.
func selfDir() string {
	if HasProc {
		return "/proc/self/fd"
	}
	return "/dev/fd"
}

// Of lists the open fds of the process pid (0 for the test process) as
// "n->target".
func Of(pid int) ([]string, error) {
	dir := selfDir()
	if pid != 0 {
		dir = fmt.Sprintf("/proc/%d/fd", pid)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		l, _ := os.Readlink(filepath.Join(dir, e.Name()))
		out = append(out, e.Name()+"->"+l)
	}
	return out, nil
}

// Check fails the test at cleanup if the test process then has more
// open fds than when Check was called, after a grace period of 2 s for
// closes still in flight. Cleanups run last-registered first, so the
// count is taken after the cleanups registered later (killing and
// reaping a program, closing its clients).
func Check(t testing.TB) {
	t.Helper()
	before, err := Of(0)
	if err != nil {
		t.Fatalf("counting fds: %v", err)
	}
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		now, err := Of(0)
		for err == nil && len(now) > len(before) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			now, err = Of(0)
		}
		if err != nil {
			t.Errorf("counting fds: %v", err)
		} else if len(now) > len(before) {
			t.Errorf("fd leak in the test process: %d open, %d before: %v", len(now), len(before), now)
		}
	})
}

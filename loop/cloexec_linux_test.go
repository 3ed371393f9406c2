package loop

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/stretchr/testify/require"
)

// fdSet returns the fd numbers in a /proc/<pid>/fd listing.
func fdSet(t *testing.T, names []string) map[int]bool {
	t.Helper()
	set := map[int]bool{}
	for _, n := range names {
		if fd, err := strconv.Atoi(strings.TrimSpace(n)); err == nil {
			set[fd] = true
		}
	}
	return set
}

func selfFDs(t *testing.T) map[int]bool {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return fdSet(t, names)
}

// TestChildInheritsNothing: a process started while a loop runs inherits
// none of the fds the loop opened (pollers' kernel objects, wake-up
// eventfds): everything it opens is close-on-exec. The child lists its
// own /proc/self/fd.
func TestChildInheritsNothing(t *testing.T) {
	before := selfFDs(t)
	l, err := New(Config{Threads: 2, Table: fdtable.New(1024)})
	require.NoError(t, err)
	wait := runLoop(t, l)
	time.Sleep(20 * time.Millisecond)
	ours := map[int]bool{}
	for fd := range selfFDs(t) {
		if !before[fd] {
			ours[fd] = true
		}
	}
	out, err := exec.Command("ls", "/proc/self/fd").Output()
	l.Stop()
	require.NoError(t, wait())
	require.NoError(t, err)
	require.NotEmpty(t, ours, "the loop opened no fd?")
	child := fdSet(t, strings.Fields(string(out)))
	require.NotEmpty(t, child, "the child listed no fd: %q", out)
	for fd := range ours {
		if child[fd] {
			t.Errorf("the child inherited the loop's fd %d (child fds %v)", fd, child)
		}
	}
}

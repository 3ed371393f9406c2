package epoll_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	"github.com/evpoll/evpoll/pollers/epoll"
	"github.com/stretchr/testify/require"
)

// TestChildInheritsNoEpoll: a process started while epoll instances live
// (one per thread, one re-created by Fork) inherits none of them: every
// epoll fd is close-on-exec. The child lists its own /proc/self/fd.
func TestChildInheritsNoEpoll(t *testing.T) {
	tab := fdtable.New(1024)
	for i := range 2 {
		th, err := tab.NewThread(i)
		require.NoError(t, err)
		ctx := poller.NewContext(th)
		p, err := epoll.New(ctx)
		require.NoError(t, err)
		defer p.Close()
		if i == 1 {
			require.NoError(t, poller.Fork(ctx, p))
		}
	}
	out, err := exec.Command("ls", "-l", "/proc/self/fd").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "/proc/", "the child listed its fds: %s", out)
	if strings.Contains(string(out), "eventpoll") {
		t.Errorf("the child inherited an epoll fd:\n%s", out)
	}
}

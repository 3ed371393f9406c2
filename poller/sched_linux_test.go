package poller

import (
	"os"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// pingWaiter is a real kernel wait: a socket pair and an epoll instance,
// with a byte written before each wait so that every wait returns at once,
// as a busy server's do.
type pingWaiter struct {
	ep, a, b int
	evs      []unix.EpollEvent
	buf      [1]byte
}

func (w *pingWaiter) KernelWait(ms int) (int, error) {
	unix.Write(w.b, w.buf[:])
	n, err := unix.EpollWait(w.ep, w.evs, ms)
	if n > 0 {
		unix.Read(w.a, w.buf[:])
	}
	return n, err
}

// preemptions runs Wait in a busy loop on a locked OS thread for d and
// returns how many SIGURG signals (the runtime's preemption signal, which
// os/signal also delivers) the process received meanwhile.
func preemptions(t *testing.T, d time.Duration) int64 {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	require.NoError(t, err)
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	require.NoError(t, err)
	defer unix.Close(ep)
	require.NoError(t, unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fds[0], &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fds[0])}))
	w := &pingWaiter{ep: ep, a: fds[0], b: fds[1], evs: make([]unix.EpollEvent, 8)}

	tab := fdtable.New(64)
	th, err := tab.NewThread(0)
	require.NoError(t, err)
	defer th.Close()
	ctx := NewContext(th)

	sig := make(chan os.Signal, 4096)
	signal.Notify(sig, syscall.SIGURG)
	defer signal.Stop(sig)
	var n atomic.Int64
	stop := make(chan struct{})
	counted := make(chan struct{})
	go func() {
		defer close(counted)
		for {
			select {
			case <-sig:
				n.Add(1)
			case <-stop:
				return
			}
		}
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			ctx.Wait(w, ctx.UpdateTime().Add(10), false, false)
		}
	}()
	<-done
	close(stop)
	<-counted
	return n.Load()
}

// TestWaitYieldsToScheduler: a polling goroutine that never passes
// through the Go scheduler is treated by sysmon as long-running and
// preempted with a signal on every tick (measured here: 20 to 45 SIGURG a
// second with the yield disabled). Context.Wait's yield keeps a busy
// second of waits nearly free of them.
func TestWaitYieldsToScheduler(t *testing.T) {
	if testing.Short() {
		t.Skip("a busy second")
	}
	got := preemptions(t, time.Second)
	if got > 8 {
		t.Errorf("%d preemption signals during a busy second of waits, want at most 8: the polling goroutine does not yield", got)
	}
}

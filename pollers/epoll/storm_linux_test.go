package epoll_test

import (
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/evpoll/evpoll/internal/chain"
	"github.com/evpoll/evpoll/pollers/epoll"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// cpu returns the process's user+system CPU time so far.
func cpu(t *testing.T) time.Duration {
	t.Helper()
	var ru unix.Rusage
	require.NoError(t, unix.Getrusage(unix.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rounds runs n rounds of the chain workload and returns the CPU they cost.
func rounds(t *testing.T, r chain.Runner, n int) time.Duration {
	t.Helper()
	start := cpu(t)
	for i := range n {
		fired, err := r.Round()
		require.NoError(t, err, "round %d", i)
		require.Equal(t, 10+100, fired, "round %d: events", i)
	}
	return cpu(t) - start
}

// TestSignalStorm: another process sends this one signals as fast as a
// shell can while the poller carries the chain workload. Every round gets
// all its events, no EINTR escapes Poll, and the CPU spent per round stays
// within twice the quiet run's (the signals themselves cost a little).
func TestSignalStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("a few seconds of signals")
	}
	r, err := chain.New(epoll.Backend, chain.Config{FDs: 100, Active: 10, Writes: 100})
	require.NoError(t, err)
	defer r.Close()
	const n = 300
	rounds(t, r, 20) // warm up
	// The best of three runs on each side, so that a burst of other work
	// on a shared machine does not decide the ratio.
	best := func() time.Duration {
		b := rounds(t, r, n)
		for range 2 {
			b = min(b, rounds(t, r, n))
		}
		return b
	}
	quiet := best()

	sig := make(chan os.Signal, 1024)
	signal.Notify(sig, syscall.SIGUSR2)
	defer signal.Stop(sig)
	var got atomic.Int64
	stop := make(chan struct{})
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for {
			select {
			case <-sig:
				got.Add(1)
			case <-stop:
				return
			}
		}
	}()
	child := exec.Command("sh", "-c", "while kill -USR2 "+strconv.Itoa(os.Getpid())+" 2>/dev/null; do :; done")
	require.NoError(t, child.Start())
	defer func() {
		child.Process.Kill()
		child.Wait()
		close(stop)
		<-drained
	}()
	// Let the storm start before measuring.
	deadline := time.Now().Add(5 * time.Second)
	for got.Load() < 100 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	require.GreaterOrEqual(t, got.Load(), int64(100), "the storm did not start")
	before := got.Load()
	stormy := best()
	signals := (got.Load() - before) / 3
	require.GreaterOrEqual(t, signals, int64(100), "too few signals per measured run to call it a storm")
	t.Logf("CPU for %d rounds, best of 3: %v quiet, %v under about %d signals", n, quiet, stormy, signals)
	if stormy > 2*quiet+20*time.Millisecond {
		t.Errorf("CPU for %d rounds, best of 3: %v quiet, %v under about %d signals: more than twice", n, quiet, stormy, signals)
	}
}

package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/evpoll/evpoll/examples/internal/proctest"
	_ "github.com/evpoll/evpoll/pollers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var binary string

func TestMain(m *testing.M) { proctest.Main(m, "echo", &binary) }

func start(t *testing.T, args ...string) *proctest.Proc { return proctest.Start(t, binary, args...) }

func echoRound(c net.Conn, rng *rand.Rand) error { return proctest.EchoRound(c, rng, 8<<10) }

// dialAll opens n connections at once and runs rounds echo rounds on each,
// concurrently.
func dialAll(t *testing.T, addr string, n, rounds int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				errs[i] = err
				return
			}
			conns[i] = c
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			for range rounds {
				if err := echoRound(c, rng); err != nil {
					errs[i] = fmt.Errorf("conn %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	require.NoError(t, errors.Join(errs...))
	return conns
}

var acceptedLine = regexp.MustCompile(`(?m)^accepted: (\d+) \[ (\d+) (\d+) \]$`)

// Hundreds of concurrent clients on two threads, the activity dump on
// SIGHUP, then a soft stop: the listener refuses new connections at once,
// open ones keep working, and the process exits 0 after the last closes.
func TestSoftStopUnderLoad(t *testing.T) {
	for _, name := range proctest.Backends(t) {
		t.Run("poller="+name, func(t *testing.T) {
			p := start(t, "-threads", "2", "-poller", name)
			conns := dialAll(t, p.Addr, 300, 3)
			p.RequireFDs(t, len(conns)) // one per connection, no more

			p.Signal(t, syscall.SIGHUP)
			var m []string
			require.Eventually(t, func() bool {
				m = acceptedLine.FindStringSubmatch(p.Stderr.String())
				return m != nil
			}, 5*time.Second, 5*time.Millisecond, "no activity dump: %s", p.Stderr)
			assert.Contains(t, p.Stderr.String(), "thread_id: 1 (1..2)\n")
			assert.Contains(t, p.Stderr.String(), "\nloops: ")
			total, _ := strconv.Atoi(m[1])
			a, _ := strconv.Atoi(m[2])
			b, _ := strconv.Atoi(m[3])
			assert.Equal(t, 300, total)
			assert.Equal(t, total, a+b)
			assert.Greater(t, a, 100, "connections spread over the threads")
			assert.Greater(t, b, 100, "connections spread over the threads")

			p.Signal(t, syscall.SIGUSR1)
			require.Eventually(t, func() bool {
				c, err := net.DialTimeout("tcp", p.Addr, time.Second)
				if err == nil {
					c.Close()
				}
				return errors.Is(err, syscall.ECONNREFUSED)
			}, 2*time.Second, 5*time.Millisecond, "new connections still accepted after SIGUSR1")

			rng := rand.New(rand.NewPCG(9, 9))
			for i, c := range conns {
				require.NoError(t, echoRound(c, rng), "conn %d after soft stop", i)
			}
			for _, c := range conns[1:] {
				c.Close()
			}
			time.Sleep(100 * time.Millisecond)
			assert.True(t, p.Running(), "exited with a connection still open")
			require.NoError(t, echoRound(conns[0], rng), "last conn still served")
			conns[0].Close()
			assert.Equal(t, 0, p.WaitExit(t, 5*time.Second), "stderr: %s", p.Stderr)
		})
	}
}

// SIGTERM and SIGINT stop within a second even with connections open.
func TestHardStop(t *testing.T) {
	for _, name := range proctest.Backends(t) {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
			t.Run(fmt.Sprintf("poller=%s/signal=%d", name, sig), func(t *testing.T) {
				p := start(t, "-threads", "2", "-poller", name)
				dialAll(t, p.Addr, 50, 1)
				start := time.Now()
				p.Signal(t, sig)
				assert.Equal(t, 0, p.WaitExit(t, 3*time.Second))
				assert.Less(t, time.Since(start), time.Second, "exit took too long")
			})
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"-threads", "-1"}, "-threads"},
		{[]string{"-threads", "x"}, "-threads"},
		{[]string{"-poller", "nosuch"}, "-poller"},
		{[]string{"-addr", "256.0.0.1:1"}, "-addr"},
		{[]string{"extra"}, "extra"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) { proctest.BadFlag(t, binary, c.args, c.flag) })
	}
}

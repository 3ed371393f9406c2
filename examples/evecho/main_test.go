package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/evpoll/evpoll/examples/internal/proctest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var binary string

func TestMain(m *testing.M) { proctest.Main(m, "evecho", &binary) }

func round(c net.Conn, rng *rand.Rand) error { return proctest.EchoRound(c, rng, 64<<10) }

// Many concurrent clients on every backend, then a soft stop on SIGUSR1:
// refused at once, open connections still served, exit 0 after the last.
func TestClientsThenSoftStop(t *testing.T) {
	for _, name := range proctest.Backends(t) {
		t.Run("poller="+name, func(t *testing.T) {
			p := proctest.Start(t, binary, "-threads", "2", "-poller", name)
			conns := make([]net.Conn, 100)
			errs := make([]error, len(conns))
			var wg sync.WaitGroup
			for i := range conns {
				wg.Go(func() {
					c, err := net.DialTimeout("tcp", p.Addr, 10*time.Second)
					if err != nil {
						errs[i] = err
						return
					}
					conns[i] = c
					rng := rand.New(rand.NewPCG(uint64(i), 2))
					for range 3 {
						if err := round(c, rng); err != nil {
							errs[i] = fmt.Errorf("conn %d: %w", i, err)
							return
						}
					}
				})
			}
			wg.Wait()
			require.NoError(t, errors.Join(errs...))
			p.RequireFDs(t, len(conns)) // one per connection, no more
			p.Signal(t, syscall.SIGUSR1)
			require.Eventually(t, func() bool {
				c, err := net.DialTimeout("tcp", p.Addr, time.Second)
				if err == nil {
					c.Close()
				}
				return errors.Is(err, syscall.ECONNREFUSED)
			}, 2*time.Second, 5*time.Millisecond, "still accepting after SIGUSR1")
			rng := rand.New(rand.NewPCG(7, 7))
			for i, c := range conns {
				require.NoError(t, round(c, rng), "conn %d after soft stop", i)
				c.Close()
			}
			assert.Equal(t, 0, p.WaitExit(t, 5*time.Second), "stderr: %s", p.Stderr)
		})
	}
}

// SIGTERM and SIGINT exit within the grace period even with clients open.
func TestStopSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(fmt.Sprintf("signal=%d", sig), func(t *testing.T) {
			p := proctest.Start(t, binary, "-threads", "2", "-grace", "200ms")
			c, err := net.Dial("tcp", p.Addr)
			require.NoError(t, err)
			defer c.Close()
			require.NoError(t, round(c, rand.New(rand.NewPCG(1, 1))))
			start := time.Now()
			p.Signal(t, sig)
			assert.Equal(t, 0, p.WaitExit(t, 3*time.Second))
			assert.Less(t, time.Since(start), 2*time.Second)
		})
	}
}

func TestBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"-threads", "-1"}, "-threads"},
		{[]string{"-poller", "nosuch"}, "-poller"},
		{[]string{"-addr", "256.0.0.1:1"}, "-addr"},
		{[]string{"-grace", "-1s"}, "-grace"},
		{[]string{"extra"}, "extra"},
	} {
		t.Run(fmt.Sprint(c.args), func(t *testing.T) { proctest.BadFlag(t, binary, c.args, c.flag) })
	}
}

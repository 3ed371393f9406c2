package evnet

import (
	"net"
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/loop"
	"github.com/stretchr/testify/require"
)

// BenchmarkSpread compares the two ways of spreading connections over
// two threads: one listener handing connections to the less loaded of
// two threads (scheme=queue), or one SO_REUSEPORT listener per thread,
// the kernel choosing by a hash of the addresses (scheme=reuseport). It
// opens 1000 connections and reports the busier thread's share over the
// other's (1 is perfect balance).
func BenchmarkSpread(b *testing.B) {
	for _, scheme := range []string{"queue", "reuseport"} {
		b.Run("scheme="+scheme, func(b *testing.B) {
			var worst float64
			for b.Loop() {
				worst = max(worst, spreadOnce(b, scheme, 1000))
			}
			b.ReportMetric(worst, "max/min")
			b.ReportMetric(0, "ns/op")
		})
	}
}

func spreadOnce(b *testing.B, scheme string, n int) float64 {
	rec := newRecorder()
	rec.ev = make(chan event, 2*n+16)
	l, err := loop.New(loop.Config{Threads: 2, Table: fdtable.New(4096)})
	require.NoError(b, err)
	var addr string
	switch scheme {
	case "queue":
		ln, err := Listen(l, "tcp", "127.0.0.1:0", Options{Handler: rec})
		require.NoError(b, err)
		addr = ln.Addr().String()
	case "reuseport":
		for tid := range 2 {
			if addr == "" {
				addr = "127.0.0.1:0"
			}
			ln, err := Listen(l, "tcp", addr, Options{Handler: rec, ReusePort: true, Thread: tid, Threads: 1 << tid})
			require.NoError(b, err)
			addr = ln.Addr().String()
		}
	}
	done := make(chan error, 1)
	go func() { done <- l.Run() }()
	var conns []net.Conn
	count := [2]int{}
	for range n {
		c, err := net.Dial("tcp", addr)
		require.NoError(b, err)
		conns = append(conns, c)
	}
	for range n {
		e := <-rec.ev
		require.Equal(b, "open", e.kind)
		count[e.tid]++
	}
	for _, c := range conns {
		c.Close()
	}
	l.SoftStop()
	require.NoError(b, <-done)
	lo, hi := min(count[0], count[1]), max(count[0], count[1])
	if lo == 0 {
		return float64(hi)
	}
	return float64(hi) / float64(lo)
}

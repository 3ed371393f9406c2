package evnet

import (
	"fmt"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/internal/echobench"
	"github.com/evpoll/evpoll/loop"
	"github.com/stretchr/testify/require"
)

// reportEcho measures the echo server at addr with conns connections and
// reports round trips per second and server CPU microseconds per round
// trip.
func reportEcho(b *testing.B, addr string, conns int) {
	res, err := echobench.Measure(addr, conns, 2*time.Second)
	require.NoError(b, err)
	b.ReportMetric(res.PerSecond(), "rtt/s")
	b.ReportMetric(res.CPUPerRoundTrip(), "cpu-us/rtt")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkEchoCPU is the echo comparison: 64-byte round trips
// from a client process on the other core, against an evnet echo server
// on 1 and 2 loop threads and a net-package server with a goroutine per
// connection, in the same run. It reports round trips per second and the
// server process's CPU per round trip (getrusage). Run it with
// -benchtime 1x: each case lasts 2 s whatever b.N. "pollbench -workload
// echo" runs the same comparison with paired ratios.
func BenchmarkEchoCPU(b *testing.B) {
	for _, conns := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("server=net/threads=0/conns=%d", conns), func(b *testing.B) {
			s, err := echobench.StartNet()
			require.NoError(b, err)
			reportEcho(b, s.Addr(), conns)
			require.NoError(b, s.Close())
		})
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("server=evnet/threads=%d/conns=%d", threads, conns), func(b *testing.B) {
				l, err := loop.New(loop.Config{Threads: threads, Table: fdtable.New(4096)})
				require.NoError(b, err)
				ln, err := Listen(l, "tcp", "127.0.0.1:0", Options{Handler: &echoHandler{}})
				require.NoError(b, err)
				done := make(chan error, 1)
				go func() { done <- l.Run() }()
				reportEcho(b, ln.Addr().String(), conns)
				l.SoftStop()
				require.NoError(b, <-done)
			})
		}
	}
}

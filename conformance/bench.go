package conformance

import (
	"fmt"
	"testing"

	"github.com/evpoll/evpoll/internal/chain"
	"github.com/evpoll/evpoll/poller"
)

// BenchSizes are the registered-fd counts Benchmark sweeps.
var BenchSizes = []int{100, 1000, 10000}

// BenchActive are the numbers of initially active fds Benchmark sweeps.
var BenchActive = []int{1, 100}

// BenchWrites is the length of the write chain of one round.
const BenchWrites = 100

// Benchmark measures be with the shape of libevent's bench.c, as
// sub-benchmarks named backend=X/fds=N/active=M: N fds (N/2 socket pairs,
// both ends registered for reading), M of them made readable at the start
// of a round, and every read event writing one byte to the peer of the
// next fd until BenchWrites writes were chained. One op is one round; the
// events/op metric counts the callbacks of a round. Sizes the backend or
// the fd limit cannot hold are skipped with a message.
func Benchmark(b *testing.B, be poller.Backend) {
	b.Run("backend="+be.Name, func(b *testing.B) {
		for _, n := range BenchSizes {
			for _, m := range BenchActive {
				if m > n {
					continue
				}
				b.Run(fmt.Sprintf("fds=%d/active=%d", n, m), func(b *testing.B) {
					r, err := chain.New(be, chain.Config{FDs: n, Active: m, Writes: BenchWrites})
					if err != nil {
						b.Skip(err)
					}
					defer r.Close()
					events := 0
					b.ReportAllocs()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						n, err := r.Round()
						if err != nil {
							b.Fatal(err)
						}
						events += n
					}
					b.StopTimer()
					b.ReportMetric(float64(events)/float64(b.N), "events/op")
				})
			}
		}
	})
}

package conformance

import (
	"fmt"
	"testing"

	"github.com/evpoll/evpoll/internal/chain"
	"github.com/evpoll/evpoll/poller"
)

// BenchOptions sets the sweep of [Benchmark]. The zero value means the
// defaults.
type BenchOptions struct {
	// FDs are the registered-fd counts swept (default 100, 1000, 10000).
	FDs []int
	// Active are the numbers of initially active fds swept (default 1,
	// 100); counts above the fd count are skipped.
	Active []int
	// Writes is the length of the write chain of one round (default 100).
	Writes int
}

func (o BenchOptions) withDefaults() BenchOptions {
	if len(o.FDs) == 0 {
		o.FDs = []int{100, 1000, 10000}
	}
	if len(o.Active) == 0 {
		o.Active = []int{1, 100}
	}
	if o.Writes <= 0 {
		o.Writes = 100
	}
	return o
}

// Benchmark measures be with the shape of libevent's bench.c, as
// sub-benchmarks named backend=X/fds=N/active=M: N fds (N/2 socket pairs,
// both ends registered for reading), M of them made readable at the start
// of a round, and every read event writing one byte to the peer of the
// next fd until the chain's writes were done. One op is one round; the
// events/op metric counts the callbacks of a round. Sizes the backend or
// the fd limit cannot hold are skipped with a message.
// opts, at most one, sets the sweep.
func Benchmark(b *testing.B, be poller.Backend, opts ...BenchOptions) {
	var o BenchOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	o = o.withDefaults()
	b.Run("backend="+be.Name, func(b *testing.B) {
		for _, n := range o.FDs {
			for _, m := range o.Active {
				if m > n {
					continue
				}
				b.Run(fmt.Sprintf("fds=%d/active=%d", n, m), func(b *testing.B) {
					r, err := chain.New(be, chain.Config{FDs: n, Active: m, Writes: o.Writes})
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

package pollers_test

import (
	"testing"

	"github.com/evpoll/evpoll/conformance"
	"github.com/evpoll/evpoll/poller"
	_ "github.com/evpoll/evpoll/pollers"
)

// BenchmarkCompare runs conformance.Benchmark for every enabled backend of
// this system in one run, named backend=X/fds=N/active=M, so that
// `benchstat -col /backend` compares them on numbers from the same run.
func BenchmarkCompare(b *testing.B) {
	cands, err := poller.Candidates()
	if err != nil {
		b.Fatal(err)
	}
	for _, be := range cands {
		conformance.Benchmark(b, be)
	}
}

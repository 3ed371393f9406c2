package evports_test

import (
	"testing"

	"github.com/evpoll/evpoll/conformance"
	"github.com/evpoll/evpoll/pollers/evports"
)

// The real backend, on illumos and Solaris.
func TestConformance(t *testing.T) { conformance.Run(t, evports.Backend) }

func BenchmarkConformance(b *testing.B) { conformance.Benchmark(b, evports.Backend) }

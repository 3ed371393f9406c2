//go:build unix

package poll_test

import (
	"testing"

	"github.com/evpoll/evpoll/conformance"
	"github.com/evpoll/evpoll/pollers/poll"
)

func TestConformance(t *testing.T) { conformance.Run(t, poll.Backend) }

func BenchmarkConformance(b *testing.B) { conformance.Benchmark(b, poll.Backend) }

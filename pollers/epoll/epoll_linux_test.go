package epoll_test

import (
	"testing"

	"github.com/evpoll/evpoll/conformance"
	"github.com/evpoll/evpoll/pollers/epoll"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, epoll.Backend)
}

func BenchmarkConformance(b *testing.B) {
	conformance.Benchmark(b, epoll.Backend)
}

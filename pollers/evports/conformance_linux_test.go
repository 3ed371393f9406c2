package evports_test

import (
	"testing"

	"github.com/evpoll/evpoll/conformance"
	"github.com/evpoll/evpoll/internal/portemu"
	"github.com/evpoll/evpoll/pollers/evports"
)

// EmulatedBackend is the evports backend over the epoll-based emulation
// of event ports; its name says so in every message.
var EmulatedBackend = evports.NewBackend(portemu.New(), "evports-emulated")

func TestConformanceEmulated(t *testing.T) { conformance.Run(t, EmulatedBackend) }

func BenchmarkConformanceEmulated(b *testing.B) { conformance.Benchmark(b, EmulatedBackend) }

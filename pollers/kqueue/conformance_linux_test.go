package kqueue_test

import (
	"testing"

	"github.com/evpoll/evpoll/conformance"
	"github.com/evpoll/evpoll/internal/kqemu"
	"github.com/evpoll/evpoll/pollers/kqueue"
)

// EmulatedBackend is the kqueue backend over the epoll-based emulation of
// kqueue(2); its name says so in every message.
var EmulatedBackend = kqueue.NewBackend(kqemu.New(), "kqueue-emulated")

func TestConformanceEmulated(t *testing.T) { conformance.Run(t, EmulatedBackend) }

func BenchmarkConformanceEmulated(b *testing.B) { conformance.Benchmark(b, EmulatedBackend) }

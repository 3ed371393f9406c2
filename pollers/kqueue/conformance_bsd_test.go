//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package kqueue_test

import (
	"testing"

	"github.com/evpoll/evpoll/conformance"
	"github.com/evpoll/evpoll/pollers/kqueue"
)

// The real backend, on the systems that have kqueue (run in hosted CI).
func TestConformance(t *testing.T) { conformance.Run(t, kqueue.Backend) }

func BenchmarkConformance(b *testing.B) { conformance.Benchmark(b, kqueue.Backend) }

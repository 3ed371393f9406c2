//go:build unix

package selectpoll_test

import (
	"testing"

	"github.com/evpoll/evpoll/conformance"
	selectpoll "github.com/evpoll/evpoll/pollers/select"
)

func TestConformance(t *testing.T) { conformance.Run(t, selectpoll.Backend) }

func BenchmarkConformance(b *testing.B) { conformance.Benchmark(b, selectpoll.Backend) }

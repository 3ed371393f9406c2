package conformance_test

import (
	"os"
	"testing"

	"github.com/evpoll/evpoll/conformance"
	"github.com/evpoll/evpoll/poller"
	_ "github.com/evpoll/evpoll/pollers"
)

// TestAll runs the suite for every backend registered on this GOOS, as
// TestAll/<name>/<check>. With EVPOLL_POLLER set, only that backend runs.
func TestAll(t *testing.T) {
	names := poller.Names()
	if forced := os.Getenv(poller.EnvPoller); forced != "" {
		names = []string{forced}
	}
	if len(names) == 0 {
		t.Fatalf("no backend registered on this GOOS")
	}
	for _, name := range names {
		b, err := poller.Lookup(name)
		if err != nil {
			t.Fatalf("Lookup(%q): %v", name, err)
		}
		t.Run(name, func(t *testing.T) { conformance.Run(t, b) })
	}
}

package conformance_test

import (
	"testing"

	"github.com/evpoll/evpoll/conformance"
	"github.com/evpoll/evpoll/poller"
	_ "github.com/evpoll/evpoll/pollers"
)

// TestAll runs the suite for every enabled backend registered on this
// GOOS, as TestAll/<name>/<check>. EVPOLL_POLLER=name runs only that one
// and EVPOLL_DISABLE=a,b leaves some out, as they do for poller.Open.
func TestAll(t *testing.T) {
	cands, err := poller.Candidates()
	if err != nil {
		t.Fatalf("backend selection from the environment: %v", err)
	}
	if len(cands) == 0 {
		t.Fatalf("no backend enabled on this GOOS")
	}
	for _, b := range cands {
		t.Run(b.Name, func(t *testing.T) { conformance.Run(t, b) })
	}
}

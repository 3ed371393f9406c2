package chain

import (
	"testing"
)

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{FDs: 0, Active: 1}, {FDs: 3, Active: 1}, {FDs: 4, Active: 0}, {FDs: 4, Active: 5}, {FDs: 4, Active: 1, Writes: -1}} {
		if _, err := NewBaseline(c); err == nil {
			t.Errorf("NewBaseline(%+v) accepted a bad config", c)
		}
	}
}

// TestBaselineRounds: every round delivers exactly active+writes events,
// and Close leaves no goroutine blocked in Read.
func TestBaselineRounds(t *testing.T) {
	r, err := NewBaseline(Config{FDs: 8, Active: 2, Writes: 20})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		n, err := r.Round()
		if err != nil {
			t.Fatal(err)
		}
		if n != 22 {
			t.Fatalf("round %d: %d events, want 22", i, n)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

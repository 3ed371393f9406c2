package fdtable_test

import (
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
)

// TestPanickingIOCBReleasesRunning: an iocb that panics must not leave the
// fd marked running, or a later Delete from another thread waits forever.
func TestPanickingIOCBReleasesRunning(t *testing.T) {
	tab, ths := newTable(t, 2)
	sp := socketPair(t)
	if err := ths[0].Insert(sp.FD, nil, func(int, any) { panic("boom") }, 0x3); err != nil {
		t.Fatal(err)
	}
	if err := ths[0].WantRecv(sp.FD); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want the iocb's panic", r)
			}
		}()
		ths[0].UpdateEvents(sp.FD, fdtable.ReadyR)
	}()
	if m := tab.RunningMask(sp.FD); m != 0 {
		t.Fatalf("running mask = %#x after the iocb panicked, want 0", m)
	}
	done := make(chan error, 1)
	go func() { done <- sp.delete(ths[1]) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Delete: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("Delete from another thread still waiting after the iocb panicked")
	}
}

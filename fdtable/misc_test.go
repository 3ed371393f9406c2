package fdtable_test

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/google/go-cmp/cmp"
)

// TestWakeHook: the wake hook (quirk Q14 fixed) is called with the thread
// mask when a change for an active fd goes to the shared list, never for
// local changes or changes that queue nothing.
func TestWakeHook(t *testing.T) {
	tab, ths := newTable(t, 2)
	var woken []uint64
	tab.SetWakeHook(func(m uint64) { woken = append(woken, m) })
	const own, shared, foreign = 10, 11, 12
	ths[0].Insert(own, nil, nil, 0x1)
	ths[0].Insert(shared, nil, nil, 0x3)
	ths[0].Insert(foreign, nil, nil, 0x2)

	steps := []struct {
		name string
		op   func()
		want []uint64
	}{
		{"local want", func() { ths[0].WantRecv(own) }, nil},
		{"external want, owner has it pending", func() { tab.External().WantSend(own) }, nil},
		{"external want on owned fd", func() {
			ths[0].DrainUpdates(nopUpdater{}, true)
			ths[0].StopSend(own)
			tab.External().WantSend(own)
		}, []uint64{0x1}},
		{"shared want", func() { ths[0].WantRecv(shared) }, []uint64{0x3}},
		{"shared want, already pending", func() { ths[1].WantSend(shared) }, nil},
		{"foreign want", func() { ths[0].WantSend(foreign) }, []uint64{0x2}},
		{"stop queues nothing", func() { ths[0].StopBoth(foreign) }, nil},
		{"hook removed", func() {
			tab.SetWakeHook(nil)
			ths[1].DrainUpdates(nopUpdater{}, true)
			ths[0].WantRecv(foreign)
		}, nil},
	}
	for _, s := range steps {
		woken = nil
		s.op()
		if diff := cmp.Diff(s.want, woken); diff != "" {
			t.Errorf("%s: wake calls (-want +got):\n%s", s.name, diff)
		}
	}
}

// TestAppendOpenAndPolledBy covers the table walks used by Fork and Term.
func TestAppendOpenAndPolledBy(t *testing.T) {
	tab, ths := newTable(t, 2)
	for _, fd := range []int{3, 1500, 2047, 2048} {
		if err := ths[0].Insert(fd, nil, nil, 0x1); err != nil {
			t.Fatal(err)
		}
	}
	ths[0].Remove(1500)
	tab.SetPolled(3, 1, true, false)
	tab.SetPolled(2048, 1, false, true)
	tab.SetPolled(2047, 0, true, true)
	tab.SetPolled(1500, 1, true, true) // closed but still known to thread 1's poller
	if diff := cmp.Diff([]int{3, 2047, 2048}, tab.AppendOpen(nil)); diff != "" {
		t.Errorf("AppendOpen (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{3, 1500, 2048}, tab.AppendPolledBy(nil, 1)); diff != "" {
		t.Errorf("AppendPolledBy(1) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{-1, 2047}, tab.AppendPolledBy([]int{-1}, 0)); diff != "" {
		t.Errorf("AppendPolledBy(0) (-want +got):\n%s", diff)
	}
	tab.ClearPolled(2048)
	if r, s := tab.Polled(2048); r != 0 || s != 0 {
		t.Errorf("ClearPolled left %#x %#x", r, s)
	}
	tab.MarkCloned()
	var cloned []int
	for _, fd := range []int{3, 1500, 2047, 2048} {
		if tab.IsCloned(fd) {
			cloned = append(cloned, fd)
		}
	}
	if !slices.Equal(cloned, []int{3, 2047, 2048}) {
		t.Errorf("cloned fds %v, want the open ones", cloned)
	}
}

// TestHugeTable: fd numbers are C ints; a table cannot be larger than
// that, so no fd beyond int32 is ever accepted (the update lists store
// fds as int32).
func TestHugeTable(t *testing.T) {
	tab := fdtable.New(math.MaxInt)
	if got := tab.MaxFDs(); got != math.MaxInt32 {
		t.Fatalf("New(MaxInt).MaxFDs() = %d, want %d", got, math.MaxInt32)
	}
	th, _ := tab.NewThread(0)
	if err := th.Insert(1<<32+5, nil, nil, 1); !errors.Is(err, fdtable.ErrBadFD) {
		t.Errorf("Insert(1<<32+5) = %v, want ErrBadFD", err)
	}
	fd := math.MaxInt32 - 1
	if err := th.Insert(fd, nil, nil, 1); err != nil {
		t.Fatalf("Insert(%d): %v", fd, err)
	}
	th.WantRecv(fd)
	if diff := cmp.Diff([]int{fd}, local(th)); diff != "" {
		t.Errorf("local list (-want +got):\n%s", diff)
	}
	u := &recUpdater{}
	th.DrainUpdates(u, true)
	if diff := cmp.Diff([]int{fd}, u.fds); diff != "" {
		t.Errorf("drained (-want +got):\n%s", diff)
	}
}

func TestClearPolledBy(t *testing.T) {
	tab := fdtable.New(4096)
	th, _ := tab.NewThread(0)
	// Table entries without real files: Remove never closes them.
	for _, fd := range []int{3, 2000} {
		if err := th.Insert(fd, nil, nil, 1); err != nil {
			t.Fatal(err)
		}
	}
	tab.SetPolled(3, 1, true, false)
	tab.SetPolled(2000, 1, false, true)
	tab.SetPolled(2000, 0, true, true)
	if n := tab.ClearPolledBy(1); n != 2 {
		t.Errorf("ClearPolledBy(1) = %d, want 2", n)
	}
	if r, s := tab.Polled(3); r|s != 0 {
		t.Errorf("fd 3 polled %#x/%#x after clearing thread 1", r, s)
	}
	if r, s := tab.Polled(2000); r != 1 || s != 1 {
		t.Errorf("fd 2000 polled %#x/%#x, want thread 0's bits kept", r, s)
	}
	if n := tab.ClearPolledBy(-1) + tab.ClearPolledBy(64); n != 0 {
		t.Errorf("ClearPolledBy of bad thread ids = %d, want 0", n)
	}
}

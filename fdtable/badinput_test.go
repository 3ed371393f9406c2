package fdtable_test

import (
	"errors"
	"math"
	"strconv"
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/google/go-cmp/cmp"
)

// TestBadFD calls every exported fd operation with out-of-range fds and
// with in-range fds that are not in the table: errors wrap ErrBadFD or
// ErrNotOpen, predicates are false, accessors are zero, nothing panics and
// nothing changes.
func TestBadFD(t *testing.T) {
	tab, ths := newTable(t, 2)
	ext := tab.External()
	calls := installHooks(t, tab, 2)
	// A real fd in the table, to check nothing else is disturbed.
	sp := socketPair(t)
	if err := ths[0].Insert(sp.FD, nil, nil, 0x3); err != nil {
		t.Fatal(err)
	}
	ths[0].WantRecv(sp.FD)
	before := snap(tab, sp.FD)

	// An fd once inserted then removed: its chunk exists, it is closed.
	const removed = 100
	if err := ths[0].Insert(removed, nil, nil, 0x1); err != nil {
		t.Fatal(err)
	}
	if err := ths[0].Remove(removed); err != nil {
		t.Fatal(err)
	}
	max := tab.MaxFDs()
	cases := []struct {
		fd   int
		want error
	}{
		{-1, fdtable.ErrBadFD},
		{-4, fdtable.ErrBadFD},
		{math.MinInt, fdtable.ErrBadFD},
		{max, fdtable.ErrBadFD},
		{max + 1, fdtable.ErrBadFD},
		{1 << 40, fdtable.ErrBadFD},
		{math.MaxInt, fdtable.ErrBadFD},
		{max - 1, fdtable.ErrNotOpen}, // never inserted, chunk never allocated
		{removed, fdtable.ErrNotOpen},
		{removed + 1, fdtable.ErrNotOpen}, // chunk allocated, never inserted
	}
	for _, tc := range cases {
		t.Run("fd="+strconv.Itoa(tc.fd), func(t *testing.T) {
			fd := tc.fd
			for _, th := range []*fdtable.Thread{ths[0], ths[1], ext} {
				ops := map[string]func() error{
					"Delete":    func() error { return th.Delete(fd) },
					"Remove":    func() error { return th.Remove(fd) },
					"WantRecv":  func() error { return th.WantRecv(fd) },
					"WantSend":  func() error { return th.WantSend(fd) },
					"StopRecv":  func() error { return th.StopRecv(fd) },
					"StopSend":  func() error { return th.StopSend(fd) },
					"StopBoth":  func() error { return th.StopBoth(fd) },
					"CantRecv":  func() error { return th.CantRecv(fd) },
					"CantSend":  func() error { return th.CantSend(fd) },
					"MayRecv":   func() error { return th.MayRecv(fd) },
					"MaySend":   func() error { return th.MaySend(fd) },
					"Takeover":  func() error { return th.Takeover(fd, tab.Gen(fd)) },
					"SetLinger": func() error { return tab.SetLingerRisk(fd) },
				}
				for name, op := range ops {
					err := op()
					want := tc.want
					if name == "Takeover" && th.Bit() == 0 {
						want = fdtable.ErrBadThread
					}
					if !errors.Is(err, want) {
						t.Errorf("thread %d %s(%d) = %v, want %v", th.ID(), name, fd, err, want)
					}
				}
				if th.UpdateEvents(fd, fdtable.ReadyR|fdtable.ReadyW|fdtable.ShutR|fdtable.ShutW|fdtable.ErrRW) {
					t.Errorf("thread %d UpdateEvents(%d) reported an iocb call", th.ID(), fd)
				}
			}
			if tc.want == fdtable.ErrBadFD {
				if err := ths[0].Insert(fd, nil, nil, 0x1); !errors.Is(err, fdtable.ErrBadFD) {
					t.Errorf("Insert(%d) = %v, want ErrBadFD", fd, err)
				}
				if err := tab.AddToSharedList(fd); !errors.Is(err, fdtable.ErrBadFD) {
					t.Errorf("AddToSharedList(%d) = %v, want ErrBadFD", fd, err)
				}
				if err := tab.RemoveFromSharedList(fd); !errors.Is(err, fdtable.ErrBadFD) {
					t.Errorf("RemoveFromSharedList(%d) = %v, want ErrBadFD", fd, err)
				}
			} else if err := tab.RemoveFromSharedList(fd); err != nil {
				t.Errorf("RemoveFromSharedList(%d) of an unlisted fd = %v, want nil", fd, err)
			}
			tab.SetPolled(fd, 0, true, true)
			tab.SetPolled(fd, -1, true, true)
			tab.SetPolled(fd, 64, true, true)
			tab.ClearPolled(fd)

			type preds struct {
				IsOpen, IsCloned, LingerRisk, RecvActive, SendActive, RecvReady, SendReady, Active, Listed bool
				Owner                                                                                      any
				OpenGenOpen                                                                                bool
			}
			_, open := tab.OpenGen(fd)
			gotP := preds{tab.IsOpen(fd), tab.IsCloned(fd), tab.LingerRisk(fd), tab.RecvActive(fd), tab.SendActive(fd),
				tab.RecvReady(fd), tab.SendReady(fd), tab.Active(fd), tab.Listed(fd), tab.Owner(fd), open}
			if diff := cmp.Diff(preds{}, gotP); diff != "" {
				t.Errorf("predicates (-want +got):\n%s", diff)
			}
			got := snap(tab, fd)
			want := fdSnap{Links: fdtable.ListLinks{Next: -3, Prev: -1}}
			if fd == removed {
				want.Gen = 1
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("accessors (-want +got):\n%s", diff)
			}
		})
	}
	if diff := cmp.Diff(before, snap(tab, sp.FD)); diff != "" {
		t.Errorf("valid fd disturbed (-want +got):\n%s", diff)
	}
	if len(*calls) != 0 {
		t.Errorf("close hooks called: %v", *calls)
	}
	if tab.Used() != 1 {
		t.Errorf("Used = %d, want 1", tab.Used())
	}
	if l := sharedList(tab); len(l) != 1 || l[0] != sp.FD {
		t.Errorf("shared list %v, want [%d]", l, sp.FD)
	}
	if got := tab.AppendPolledBy(nil, -1); got != nil {
		t.Errorf("AppendPolledBy(-1) = %v", got)
	}
	if got := tab.AppendPolledBy(nil, 64); got != nil {
		t.Errorf("AppendPolledBy(64) = %v", got)
	}
}

// TestBadThreadArgs: thread ids and masks out of range.
func TestBadThreadArgs(t *testing.T) {
	tab := fdtable.New(16)
	for _, id := range []int{-1, fdtable.MaxThreads, math.MaxInt, math.MinInt} {
		if _, err := tab.NewThread(id); !errors.Is(err, fdtable.ErrBadThread) {
			t.Errorf("NewThread(%d) = %v, want ErrBadThread", id, err)
		}
		if err := tab.SetCloseHook(id, nil); !errors.Is(err, fdtable.ErrBadThread) {
			t.Errorf("SetCloseHook(%d) = %v, want ErrBadThread", id, err)
		}
	}
	th, err := tab.NewThread(fdtable.MaxThreads - 1)
	if err != nil {
		t.Fatal(err)
	}
	if th.Bit() != 1<<63 || th.ID() != 63 {
		t.Errorf("thread 63: id %d bit %#x", th.ID(), th.Bit())
	}
	if _, err := tab.NewThread(63); !errors.Is(err, fdtable.ErrBadThread) {
		t.Errorf("second NewThread(63) = %v, want ErrBadThread", err)
	}
	if err := th.Insert(3, nil, nil, 0); !errors.Is(err, fdtable.ErrBadThread) {
		t.Errorf("Insert with empty mask = %v, want ErrBadThread", err)
	}
	if tab.IsOpen(3) || tab.Used() != 0 {
		t.Error("failed Insert left the fd open")
	}
	if err := tab.SetCloseHook(0, nil); err != nil {
		t.Errorf("SetCloseHook(0, nil) = %v", err)
	}
	// Default size: soft RLIMIT_NOFILE capped.
	if m := fdtable.New(0).MaxFDs(); m <= 0 || m > fdtable.DefaultMaxFDs {
		t.Errorf("New(0).MaxFDs() = %d", m)
	}
	if m := fdtable.New(-5).MaxFDs(); m <= 0 || m > fdtable.DefaultMaxFDs {
		t.Errorf("New(-5).MaxFDs() = %d", m)
	}
}

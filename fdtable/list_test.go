package fdtable_test

import (
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/google/go-cmp/cmp"
)

// listView is the shared list as HAProxy would print it.
type listView struct {
	FDs         []int
	First, Last int32
	Links       map[int]fdtable.ListLinks
}

func viewList(tab *fdtable.Table, fds ...int) listView {
	l, first, last := tab.SharedList()
	if l == nil {
		l = []int{}
	}
	v := listView{FDs: l, First: first, Last: last, Links: map[int]fdtable.ListLinks{}}
	for _, fd := range fds {
		v.Links[fd] = tab.Links(fd)
	}
	return v
}

// TestSharedListEncoding covers reference §15 C 23-25 and the link
// encoding of §5.2.
func TestSharedListEncoding(t *testing.T) {
	type step struct {
		op   string // "add" or "rm"
		fd   int
		want listView
	}
	L := func(next, prev int32) fdtable.ListLinks { return fdtable.ListLinks{Next: next, Prev: prev} }
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "C23-C24/add_5_7_9_remove_middle_then_tail",
			steps: []step{
				{"add", 5, listView{[]int{5}, 5, 5, map[int]fdtable.ListLinks{5: L(-1, -1), 7: L(-3, -1), 9: L(-3, -1)}}},
				{"add", 7, listView{[]int{5, 7}, 5, 7, map[int]fdtable.ListLinks{5: L(7, -1), 7: L(-1, 5), 9: L(-3, -1)}}},
				{"add", 9, listView{[]int{5, 7, 9}, 5, 9, map[int]fdtable.ListLinks{5: L(7, -1), 7: L(9, 5), 9: L(-1, 7)}}},
				{"rm", 7, listView{[]int{5, 9}, 5, 9, map[int]fdtable.ListLinks{5: L(9, -1), 7: L(-13, 5), 9: L(-1, 5)}}},
				{"rm", 9, listView{[]int{5}, 5, 5, map[int]fdtable.ListLinks{5: L(-1, -1), 7: L(-13, 5), 9: L(-3, 5)}}},
				{"rm", 5, listView{[]int{}, -1, -1, map[int]fdtable.ListLinks{5: L(-3, -1), 7: L(-13, 5), 9: L(-3, 5)}}},
			},
		},
		{
			name: "remove_head_encodes_successor",
			steps: []step{
				{"add", 0, listView{[]int{0}, 0, 0, map[int]fdtable.ListLinks{0: L(-1, -1), 1: L(-3, -1)}}},
				{"add", 1, listView{[]int{0, 1}, 0, 1, map[int]fdtable.ListLinks{0: L(1, -1), 1: L(-1, 0)}}},
				{"rm", 0, listView{[]int{1}, 1, 1, map[int]fdtable.ListLinks{0: L(-5, -1), 1: L(-1, -1)}}},
				{"add", 0, listView{[]int{1, 0}, 1, 0, map[int]fdtable.ListLinks{0: L(-1, 1), 1: L(0, -1)}}},
			},
		},
		{
			name: "C25/add_twice_is_noop",
			steps: []step{
				{"add", 5, listView{[]int{5}, 5, 5, map[int]fdtable.ListLinks{5: L(-1, -1), 7: L(-3, -1)}}},
				{"add", 7, listView{[]int{5, 7}, 5, 7, map[int]fdtable.ListLinks{5: L(7, -1), 7: L(-1, 5)}}},
				{"add", 5, listView{[]int{5, 7}, 5, 7, map[int]fdtable.ListLinks{5: L(7, -1), 7: L(-1, 5)}}},
				{"add", 7, listView{[]int{5, 7}, 5, 7, map[int]fdtable.ListLinks{5: L(7, -1), 7: L(-1, 5)}}},
				{"rm", 9, listView{[]int{5, 7}, 5, 7, map[int]fdtable.ListLinks{5: L(7, -1), 7: L(-1, 5)}}},
			},
		},
		{
			name: "across_chunks",
			steps: []step{
				{"add", 2000, listView{[]int{2000}, 2000, 2000, map[int]fdtable.ListLinks{2000: L(-1, -1), 3: L(-3, -1)}}},
				{"add", 3, listView{[]int{2000, 3}, 2000, 3, map[int]fdtable.ListLinks{2000: L(3, -1), 3: L(-1, 2000)}}},
				{"rm", 2000, listView{[]int{3}, 3, 3, map[int]fdtable.ListLinks{2000: L(-7, -1), 3: L(-1, -1)}}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab := fdtable.New(tableSize)
			for i, s := range tc.steps {
				var err error
				if s.op == "add" {
					err = tab.AddToSharedList(s.fd)
				} else {
					err = tab.RemoveFromSharedList(s.fd)
				}
				if err != nil {
					t.Fatalf("step %d %s(%d): %v", i, s.op, s.fd, err)
				}
				fds := make([]int, 0, len(s.want.Links))
				for fd := range s.want.Links {
					fds = append(fds, fd)
				}
				if diff := cmp.Diff(s.want, viewList(tab, fds...)); diff != "" {
					t.Errorf("step %d %s(%d) (-want +got):\n%s", i, s.op, s.fd, diff)
				}
				for fd, l := range s.want.Links {
					if listed := tab.Listed(fd); listed != (l.Next >= -1) {
						t.Errorf("step %d: Listed(%d) = %v with links %+v", i, fd, listed, l)
					}
				}
			}
		})
	}
}

// TestDrainAcknowledgement covers reference §15 C 26-28: per-thread and
// global acknowledgement of shared entries, and entries of deleted fds.
func TestDrainAcknowledgement(t *testing.T) {
	type drain struct {
		thread    int
		perThread bool
		// expectations after this drain
		updated []string // fds handed to UpdateFD
		dropped int
		update  uint64
		listed  bool
	}
	tests := []struct {
		name   string
		mask   uint64
		prep   func(e *env)
		drains []drain
	}{
		{
			name: "C26/per_thread_last_owner_removes",
			mask: 0x3,
			prep: func(e *env) { e.do("WantRecv", e.ext.WantRecv) },
			drains: []drain{
				{thread: 0, perThread: true, updated: justFD, update: 0x2, listed: true},
				{thread: 0, perThread: true, updated: none, update: 0x2, listed: true},
				{thread: 1, perThread: true, updated: justFD, update: 0x0, listed: false},
				{thread: 1, perThread: true, updated: none, update: 0x0, listed: false},
			},
		},
		{
			name: "C26/reverse_order",
			mask: 0x3,
			prep: func(e *env) { e.do("WantSend", e.th[0].WantSend) },
			drains: []drain{
				{thread: 1, perThread: true, updated: justFD, update: 0x1, listed: true},
				{thread: 0, perThread: true, updated: justFD, update: 0x0, listed: false},
			},
		},
		{
			name: "C27/global_first_owner_acks_all",
			mask: 0x3,
			prep: func(e *env) { e.do("WantRecv", e.ext.WantRecv) },
			drains: []drain{
				{thread: 1, perThread: false, updated: justFD, update: 0x0, listed: false},
				{thread: 0, perThread: false, updated: none, update: 0x0, listed: false},
			},
		},
		{
			name: "non_owner_does_not_ack",
			mask: 0x2,
			prep: func(e *env) { e.do("WantRecv", e.th[0].WantRecv) },
			drains: []drain{
				{thread: 0, perThread: false, updated: none, update: 0x2, listed: true},
				{thread: 0, perThread: true, updated: none, update: 0x2, listed: true},
				{thread: 1, perThread: true, updated: justFD, update: 0x0, listed: false},
			},
		},
		{
			name: "C28/local_entry_of_deleted_fd_dropped_and_counted",
			mask: 0x1,
			prep: func(e *env) {
				e.do("WantRecv", e.th[0].WantRecv)
				if err := e.sp.delete(e.th[0]); err != nil {
					e.t.Fatal(err)
				}
			},
			drains: []drain{
				{thread: 0, perThread: true, updated: none, dropped: 1, update: 0x0, listed: false},
				{thread: 0, perThread: true, updated: none, dropped: 0, update: 0x0, listed: false},
			},
		},
		{
			name: "C28/shared_entry_of_deleted_fd_removed_uncounted",
			mask: 0x3,
			prep: func(e *env) {
				e.do("WantRecv", e.th[0].WantRecv)
				if err := e.sp.delete(e.th[1]); err != nil {
					e.t.Fatal(err)
				}
			},
			drains: []drain{
				{thread: 0, perThread: true, updated: none, update: 0x2, listed: true},
				{thread: 1, perThread: true, updated: none, update: 0x0, listed: false},
			},
		},
		{
			name: "C28/shared_entry_of_deleted_fd_global_ack",
			mask: 0x3,
			prep: func(e *env) {
				e.do("WantRecv", e.ext.WantRecv)
				if err := e.sp.delete(e.th[0]); err != nil {
					e.t.Fatal(err)
				}
			},
			drains: []drain{
				{thread: 0, perThread: false, updated: none, update: 0x0, listed: false},
			},
		},
		{
			name: "local_and_shared_same_fd_updated_once",
			mask: 0x1,
			prep: func(e *env) {
				e.do("WantRecv", e.th[0].WantRecv) // local
				e.do("StopRecv", e.th[0].StopRecv)
				e.do("WantRecv", e.ext.WantRecv) // update == thread mask: not listed
				e.do("WantSend", e.ext.WantSend)
			},
			drains: []drain{
				{thread: 0, perThread: true, updated: justFD, update: 0x0, listed: false},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.mask)
			tc.prep(e)
			for i, d := range tc.drains {
				e.u.take()
				dropped := e.th[d.thread].DrainUpdates(e.u, d.perThread)
				type res struct {
					Updated []string
					Dropped int
					Update  uint64
					Listed  bool
					Local   []string
				}
				got := res{e.rel(e.u.take()), dropped, e.tab.UpdateMask(e.fd), e.tab.Listed(e.fd), e.rel(local(e.th[d.thread]))}
				want := res{d.updated, d.dropped, d.update, d.listed, none}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("drain %d by thread %d (perThread=%v) (-want +got):\n%s", i, d.thread, d.perThread, diff)
				}
			}
		})
	}
}

// TestDrainOrder: local entries first, in queueing order, then shared ones
// in list order; UpdateFD sees the state current at drain time.
func TestDrainOrder(t *testing.T) {
	tab, ths := newTable(t, 2)
	var sp []*sockPair
	for range 6 {
		sp = append(sp, socketPair(t))
	}
	masks := []uint64{0x1, 0x3, 0x1, 0x2, 0x3, 0x1}
	for i, p := range sp {
		if err := ths[0].Insert(p.FD, nil, nil, masks[i]); err != nil {
			t.Fatal(err)
		}
	}
	order := []int{5, 4, 3, 2, 1, 0}
	for _, i := range order {
		if err := ths[0].WantRecv(sp[i].FD); err != nil {
			t.Fatal(err)
		}
	}
	ths[0].StopRecv(sp[2].FD)
	u := &recUpdater{tab: tab}
	ths[0].DrainUpdates(u, true)
	wantFDs := []int{sp[5].FD, sp[2].FD, sp[0].FD, sp[4].FD, sp[1].FD}
	wantSt := []fdtable.State{0x23, 0x22, 0x23, 0x23, 0x23}
	if diff := cmp.Diff(wantFDs, u.fds); diff != "" {
		t.Errorf("thread 0 UpdateFD order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantSt, u.state); diff != "" {
		t.Errorf("states seen by UpdateFD (-want +got):\n%s", diff)
	}
	u.take()
	ths[1].DrainUpdates(u, true)
	if diff := cmp.Diff([]int{sp[4].FD, sp[3].FD, sp[1].FD}, u.fds); diff != "" {
		t.Errorf("thread 1 UpdateFD order (-want +got):\n%s", diff)
	}
	if l := sharedList(tab); len(l) != 0 {
		t.Errorf("shared list not empty: %v", l)
	}
}

// reentrantUpdater queues a new change on the same thread from UpdateFD.
type reentrantUpdater struct {
	th    *fdtable.Thread
	other int
	seen  []int
}

func (u *reentrantUpdater) UpdateFD(up fdtable.Update) {
	fd := up.FD
	u.seen = append(u.seen, fd)
	if fd != u.other {
		u.th.WantSend(u.other)
	}
}

// Closing does nothing: no poller instance is attached in this test.
func (*reentrantUpdater) Closing(int, uint32, bool) {}

// TestDrainReentrant: a change queued on the draining thread from inside
// UpdateFD is not lost.
func TestDrainReentrant(t *testing.T) {
	tab, ths := newTable(t, 1)
	a, b := socketPair(t), socketPair(t)
	for _, p := range []*sockPair{a, b} {
		if err := ths[0].Insert(p.FD, nil, nil, 0x1); err != nil {
			t.Fatal(err)
		}
	}
	ths[0].WantRecv(a.FD)
	u := &reentrantUpdater{th: ths[0], other: b.FD}
	ths[0].DrainUpdates(u, true)
	ths[0].DrainUpdates(u, true)
	if diff := cmp.Diff([]int{a.FD, b.FD}, u.seen); diff != "" {
		t.Errorf("UpdateFD calls (-want +got):\n%s", diff)
	}
	if m := tab.UpdateMask(b.FD); m != 0 {
		t.Errorf("update mask of b %#x after drains, want 0", m)
	}
	// b's update bit was cleared: a later change is queued again.
	ths[0].StopSend(b.FD)
	ths[0].WantSend(b.FD)
	if diff := cmp.Diff([]int{b.FD}, local(ths[0])); diff != "" {
		t.Errorf("local list (-want +got):\n%s", diff)
	}
}

// TestThreadCloseReuse: closing a thread with pending updates and creating
// the same id again must not leave stale update bits that block queueing.
func TestThreadCloseReuse(t *testing.T) {
	tab, ths := newTable(t, 2)
	a, b := socketPair(t), socketPair(t)
	if err := ths[0].Insert(a.FD, nil, nil, 0x1); err != nil {
		t.Fatal(err)
	}
	if err := ths[0].Insert(b.FD, nil, nil, 0x3); err != nil {
		t.Fatal(err)
	}
	ths[0].WantRecv(a.FD) // local to thread 0
	ths[0].WantRecv(b.FD) // shared, update 0x3
	ths[0].Close()
	if tab.Threads() != 0x2 {
		t.Errorf("Threads = %#x after Close, want 0x2", tab.Threads())
	}
	if _, err := tab.NewThread(1); err == nil {
		t.Error("NewThread(1) succeeded while thread 1 is open")
	}
	th0, err := tab.NewThread(0)
	if err != nil {
		t.Fatalf("NewThread(0) after Close: %v", err)
	}
	if tab.Threads() != 0x3 {
		t.Errorf("Threads = %#x, want 0x3", tab.Threads())
	}
	// The new thread 0 must be able to queue a's update locally.
	th0.StopRecv(a.FD)
	th0.WantRecv(a.FD)
	if diff := cmp.Diff([]int{a.FD}, local(th0)); diff != "" {
		t.Errorf("new thread 0 local list (-want +got):\n%s", diff)
	}
	u := &recUpdater{}
	th0.DrainUpdates(u, true)
	ths[1].DrainUpdates(u, true)
	if m := tab.UpdateMask(a.FD); m != 0 {
		t.Errorf("update mask of a %#x, want 0", m)
	}
	if m := tab.UpdateMask(b.FD); m != 0 {
		t.Errorf("update mask of b %#x, want 0", m)
	}
	if l := sharedList(tab); len(l) != 0 {
		t.Errorf("shared list %v, want empty", l)
	}
}

// TestExternalDrain: the thread-less handle has nothing to drain.
func TestExternalDrain(t *testing.T) {
	e := newEnv(t, 0x1)
	e.do("WantRecv", e.ext.WantRecv)
	if n := e.ext.DrainUpdates(e.u, true); n != 0 || len(e.u.fds) != 0 {
		t.Errorf("external drain: dropped %d, updated %v", n, e.u.fds)
	}
	if !e.tab.Listed(e.fd) {
		t.Error("external drain took the entry off the shared list")
	}
	if e.ext.LocalUpdates() != nil && len(e.ext.LocalUpdates()) != 0 {
		t.Errorf("external local list %v", e.ext.LocalUpdates())
	}
	if e.ext.ID() != -1 || e.ext.Bit() != 0 || e.ext.Table() != e.tab {
		t.Errorf("external handle id %d bit %#x", e.ext.ID(), e.ext.Bit())
	}
	e.ext.Close() // no-op
	if e.tab.Threads() != 0x3 {
		t.Errorf("external Close changed Threads to %#x", e.tab.Threads())
	}
}

// TestIdleEntryCollected: a listed entry with nothing pending for anyone
// (an owner acknowledged it between another goroutine's mask change and its
// list add, which re-adds it) must not stay on the shared list forever:
// the next drain by any thread takes it off.
func TestIdleEntryCollected(t *testing.T) {
	e := newEnv(t, 0x2)
	if err := e.tab.AddToSharedList(e.fd); err != nil {
		t.Fatal(err)
	}
	if m := e.tab.UpdateMask(e.fd); m != 0 {
		t.Fatalf("update mask %#x, want 0", m)
	}
	if got := e.drain(0, true); len(got) != 0 {
		t.Errorf("drain updated %v, want nothing", got)
	}
	want := observed{
		Snap:   fdSnap{Open: true, State: 0x22, Thread: 0x2, Links: fdtable.ListLinks{Next: -3, Prev: -1}, Gen: 1},
		Local0: none, Local1: none, Shared: none, Used: 1,
	}
	if diff := cmp.Diff(want, e.observe()); diff != "" {
		t.Errorf("after drain (-want +got):\n%s", diff)
	}
}

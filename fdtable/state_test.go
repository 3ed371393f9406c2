package fdtable_test

import (
	"strconv"
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/google/go-cmp/cmp"
)

// env is the fixture of the state API tests: a table with two threads and
// one socket whose first end is inserted by thread 0.
type env struct {
	t     *testing.T
	tab   *fdtable.Table
	th    []*fdtable.Thread
	ext   *fdtable.Thread
	sp    *sockPair
	fd    int
	u     *recUpdater
	calls *[]hookCall
	iocbs int
	owner any
}

func newEnv(t *testing.T, mask uint64) *env {
	t.Helper()
	tab, ths := newTable(t, 2)
	e := &env{t: t, tab: tab, th: ths, ext: tab.External(), sp: socketPair(t), owner: new(int)}
	e.fd = e.sp.FD
	e.u = &recUpdater{tab: tab}
	e.calls = installHooks(t, tab, 3)
	if mask != 0 {
		e.insert(e.th[0], mask)
	}
	return e
}

func (e *env) iocb(fd int, owner any) {
	e.iocbs++
	if fd != e.fd || owner != e.owner {
		e.t.Errorf("iocb(%d, %v), want (%d, %v)", fd, owner, e.fd, e.owner)
	}
}

func (e *env) insert(th *fdtable.Thread, mask uint64) {
	e.t.Helper()
	if err := th.Insert(e.fd, e.owner, e.iocb, mask); err != nil {
		e.t.Fatalf("Insert: %v", err)
	}
}

// do runs op and fails the test on error.
func (e *env) do(name string, op func(int) error) {
	e.t.Helper()
	if err := op(e.fd); err != nil {
		e.t.Fatalf("%s(%d): %v", name, e.fd, err)
	}
}

// drain drains thread i's lists and returns the fds handed to UpdateFD.
func (e *env) drain(i int, perThread bool) []int {
	e.u.take()
	e.th[i].DrainUpdates(e.u, perThread)
	return e.u.take()
}

// setState brings the fd's ACTIVE and READY bits to s through the API.
func (e *env) setState(s fdtable.State) {
	e.t.Helper()
	th := e.th[0]
	e.do("StopBoth", th.StopBoth)
	e.do("CantRecv", th.CantRecv)
	e.do("CantSend", th.CantSend)
	if s&fdtable.ActiveR != 0 {
		e.do("WantRecv", th.WantRecv)
	}
	if s&fdtable.ActiveW != 0 {
		e.do("WantSend", th.WantSend)
	}
	if s&fdtable.ReadyR != 0 {
		e.do("MayRecv", th.MayRecv)
	}
	if s&fdtable.ReadyW != 0 {
		e.do("MaySend", th.MaySend)
	}
	if got := e.tab.State(e.fd); got != s {
		e.t.Fatalf("setState: state %v, want %v", got, s)
	}
}

// rel renders a list of fds with the fixture's fd as "fd".
func (e *env) rel(fds []int) []string {
	out := []string{}
	for _, fd := range fds {
		if fd == e.fd {
			out = append(out, "fd")
		} else {
			out = append(out, strconv.Itoa(fd))
		}
	}
	return out
}

// observed is what the state-API tests compare.
type observed struct {
	Snap   fdSnap
	Local0 []string
	Local1 []string
	Shared []string
	Used   int
}

func (e *env) observe() observed {
	return observed{
		Snap:   snap(e.tab, e.fd),
		Local0: e.rel(local(e.th[0])),
		Local1: e.rel(local(e.th[1])),
		Shared: e.rel(sharedList(e.tab)),
		Used:   e.tab.Used(),
	}
}

var (
	none      = []string{}
	justFD    = []string{"fd"}
	notListed = fdtable.ListLinks{Next: -3, Prev: -1}
	headOnly  = fdtable.ListLinks{Next: -1, Prev: -1}
)

// TestStateAPI covers reference §15 B 13-20: insert, want, stop, cant,
// may, cond and done, with their update-list effects.
func TestStateAPI(t *testing.T) {
	tests := []struct {
		name string
		mask uint64 // thread mask given to Insert by thread 0
		ops  func(e *env)
		want observed
	}{
		{
			name: "B13/insert_free_slot",
			mask: 0x1,
			ops:  func(e *env) {},
			want: observed{
				Snap:   fdSnap{Open: true, State: 0x22, Thread: 0x1, Links: notListed, Gen: 1},
				Local0: none, Local1: none, Shared: none, Used: 1,
			},
		},
		{
			name: "B13/reinsert_keeps_polled_resets_ev_bumps_gen",
			mask: 0x1,
			ops: func(e *env) {
				e.do("WantRecv", e.th[0].WantRecv)
				e.drain(0, true)
				e.th[0].UpdateEvents(e.fd, fdtable.ErrRW|fdtable.ShutR|fdtable.ShutW)
				e.do("Remove", e.th[0].Remove)
				// A poller still knows the fd number from its previous life.
				e.tab.SetPolled(e.fd, 1, true, false)
				e.insert(e.th[1], 0x2)
			},
			want: observed{
				// The error event came while nobody wanted to send: the
				// lazy stop queued the fd on thread 0's local list, and
				// neither Remove nor Insert touches update entries.
				Snap:   fdSnap{Open: true, State: 0x22, Thread: 0x2, Update: 0x1, PollRecv: 0x2, Links: notListed, Gen: 2},
				Local0: justFD, Local1: none, Shared: none, Used: 1,
			},
		},
		{
			name: "B14/want_recv_owned_queues_locally_once",
			mask: 0x1,
			ops: func(e *env) {
				e.do("WantRecv", e.th[0].WantRecv)
				e.do("WantRecv", e.th[0].WantRecv)
				e.do("WantSend", e.th[0].WantSend)
			},
			want: observed{
				Snap:   fdSnap{Open: true, State: 0x33, Thread: 0x1, Update: 0x1, Links: notListed, Gen: 1},
				Local0: justFD, Local1: none, Shared: none, Used: 1,
			},
		},
		{
			name: "B14/want_send_after_stop_while_pending_not_duplicated",
			mask: 0x1,
			ops: func(e *env) {
				e.do("WantSend", e.th[0].WantSend)
				e.do("StopSend", e.th[0].StopSend)
				e.do("WantSend", e.th[0].WantSend)
				e.do("WantRecv", e.th[0].WantRecv)
			},
			want: observed{
				Snap:   fdSnap{Open: true, State: 0x33, Thread: 0x1, Update: 0x1, Links: notListed, Gen: 1},
				Local0: justFD, Local1: none, Shared: none, Used: 1,
			},
		},
		{
			name: "B15/want_recv_already_active_queues_nothing",
			mask: 0x1,
			ops: func(e *env) {
				e.do("WantRecv", e.th[0].WantRecv)
				if got := e.drain(0, true); len(got) != 1 {
					e.t.Errorf("first drain updated %v, want the fd once", got)
				}
				e.do("WantRecv", e.th[0].WantRecv)
			},
			want: observed{
				Snap:   fdSnap{Open: true, State: 0x23, Thread: 0x1, Links: notListed, Gen: 1},
				Local0: none, Local1: none, Shared: none, Used: 1,
			},
		},
		{
			name: "B16/want_send_shared_fd_goes_to_shared_list_once",
			mask: 0x3,
			ops: func(e *env) {
				e.do("WantSend", e.th[0].WantSend)
				e.do("WantRecv", e.th[0].WantRecv)
				e.do("WantSend", e.th[1].WantSend)
			},
			want: observed{
				Snap:   fdSnap{Open: true, State: 0x33, Thread: 0x3, Update: 0x3, Links: headOnly, Gen: 1},
				Local0: none, Local1: none, Shared: justFD, Used: 1,
			},
		},
		{
			name: "B17/want_recv_foreign_fd_goes_to_shared_list",
			mask: 0x2,
			ops:  func(e *env) { e.do("WantRecv", e.th[0].WantRecv) },
			want: observed{
				Snap:   fdSnap{Open: true, State: 0x23, Thread: 0x2, Update: 0x2, Links: headOnly, Gen: 1},
				Local0: none, Local1: none, Shared: justFD, Used: 1,
			},
		},
		{
			name: "B17/external_want_on_owned_fd_goes_to_shared_list",
			mask: 0x1,
			ops:  func(e *env) { e.do("WantRecv", e.ext.WantRecv) },
			want: observed{
				Snap:   fdSnap{Open: true, State: 0x23, Thread: 0x1, Update: 0x1, Links: headOnly, Gen: 1},
				Local0: none, Local1: none, Shared: justFD, Used: 1,
			},
		},
		{
			name: "B17/update_mask_drops_stray_bits",
			mask: 0x1,
			ops: func(e *env) {
				e.do("WantRecv", e.th[0].WantRecv) // local to thread 0
				if err := e.th[1].Takeover(e.fd, e.tab.Gen(e.fd)); err != nil {
					e.t.Fatalf("Takeover: %v", err)
				}
				// The fd is now thread 1's; thread 0's bit is stray and
				// the shared-list update replaces it by the thread mask.
				e.do("WantSend", e.ext.WantSend)
			},
			want: observed{
				Snap:   fdSnap{Open: true, State: 0x32, Thread: 0x2, Update: 0x2, Links: headOnly, Gen: 1},
				Local0: justFD, Local1: none, Shared: justFD, Used: 1,
			},
		},
		{
			name: "B18/stops_clear_active_and_queue_nothing",
			mask: 0x1,
			ops: func(e *env) {
				e.do("WantRecv", e.th[0].WantRecv)
				e.do("WantSend", e.th[0].WantSend)
				e.drain(0, true)
				e.do("StopRecv", e.th[0].StopRecv)
				e.do("StopSend", e.th[0].StopSend)
				e.do("WantRecv", e.ext.WantRecv) // queued on the shared list
				e.drain(0, true)
				e.do("StopBoth", e.th[0].StopBoth)
				e.do("StopBoth", e.th[0].StopBoth)
				if got := e.drain(0, true); len(got) != 0 {
					e.t.Errorf("drain after stops updated %v, want nothing", got)
				}
			},
			want: observed{
				Snap:   fdSnap{Open: true, State: 0x22, Thread: 0x1, Links: fdtable.ListLinks{Next: -3, Prev: -1}, Gen: 1},
				Local0: none, Local1: none, Shared: none, Used: 1,
			},
		},
		{
			name: "B18/stop_on_shared_fd_queues_nothing",
			mask: 0x3,
			ops: func(e *env) {
				e.do("WantRecv", e.th[1].WantRecv)
				e.drain(0, true)
				e.drain(1, true)
				e.do("StopRecv", e.th[0].StopRecv)
				e.do("StopBoth", e.ext.StopBoth)
			},
			want: observed{
				Snap:   fdSnap{Open: true, State: 0x22, Thread: 0x3, Links: notListed, Gen: 1},
				Local0: none, Local1: none, Shared: none, Used: 1,
			},
		},
		{
			name: "B19/cant_clears_ready_without_update",
			mask: 0x1,
			ops: func(e *env) {
				e.do("CantRecv", e.th[0].CantRecv)
				e.do("CantSend", e.th[0].CantSend)
			},
			want: observed{
				Snap:   fdSnap{Open: true, State: 0x00, Thread: 0x1, Links: notListed, Gen: 1},
				Local0: none, Local1: none, Shared: none, Used: 1,
			},
		},
		{
			name: "B19/may_sets_ready_without_update",
			mask: 0x3,
			ops: func(e *env) {
				e.do("CantRecv", e.th[0].CantRecv)
				e.do("CantSend", e.th[0].CantSend)
				e.do("MayRecv", e.th[0].MayRecv)
				e.do("CantRecv", e.th[0].CantRecv)
				e.do("MaySend", e.ext.MaySend)
				e.do("MayRecv", e.th[1].MayRecv)
			},
			want: observed{
				Snap:   fdSnap{Open: true, State: 0x22, Thread: 0x3, Links: notListed, Gen: 1},
				Local0: none, Local1: none, Shared: none, Used: 1,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.mask)
			tc.ops(e)
			if diff := cmp.Diff(tc.want, e.observe()); diff != "" {
				t.Errorf("after ops (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPredicates checks the predicates against the state bits.
func TestPredicates(t *testing.T) {
	e := newEnv(t, 0x1)
	type preds struct{ RecvActive, SendActive, RecvReady, SendReady, Active bool }
	get := func() preds {
		return preds{e.tab.RecvActive(e.fd), e.tab.SendActive(e.fd), e.tab.RecvReady(e.fd), e.tab.SendReady(e.fd), e.tab.Active(e.fd)}
	}
	for _, tc := range []struct {
		st   fdtable.State
		want preds
	}{
		{0x00, preds{}},
		{0x01, preds{RecvActive: true, Active: true}},
		{0x02, preds{RecvReady: true}},
		{0x10, preds{SendActive: true, Active: true}},
		{0x20, preds{SendReady: true}},
		{0x33, preds{true, true, true, true, true}},
	} {
		e.setState(tc.st)
		if diff := cmp.Diff(tc.want, get()); diff != "" {
			t.Errorf("state %v (-want +got):\n%s", tc.st, diff)
		}
	}
	e.do("Remove", e.th[0].Remove)
	if diff := cmp.Diff(preds{}, get()); diff != "" {
		t.Errorf("removed fd (-want +got):\n%s", diff)
	}
}

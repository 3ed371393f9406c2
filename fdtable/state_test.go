package fdtable_test

import (
	"errors"
	"io"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
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

// TestDeleteRemove covers reference §15 B 21 and the Q11 fix: close hooks
// run for the polled threads only, before close, with keepOpen telling
// Remove from Delete; everything but ev, the update mask and the list links
// is reset.
func TestDeleteRemove(t *testing.T) {
	for _, keepOpen := range []bool{false, true} {
		name := "op=delete"
		if keepOpen {
			name = "op=remove"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, 0x3)
			e.do("WantRecv", e.th[0].WantRecv) // shared: update 0x3, listed
			e.th[0].UpdateEvents(e.fd, fdtable.ShutR)
			e.tab.SetPolled(e.fd, 0, true, false)
			e.tab.SetPolled(e.fd, 2, false, true) // thread 2 is only a hook
			var err error
			if keepOpen {
				err = e.th[1].Remove(e.fd)
			} else {
				err = e.sp.delete(e.th[1])
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			wantCalls := []hookCall{
				{Tid: 0, FD: e.fd, KeepOpen: keepOpen, FDValid: true, PollRecv: 0x1, PollSend: 0x4},
				{Tid: 2, FD: e.fd, KeepOpen: keepOpen, FDValid: true, PollRecv: 0x1, PollSend: 0x4},
			}
			if diff := cmp.Diff(wantCalls, *e.calls); diff != "" {
				t.Errorf("close hook calls (-want +got):\n%s", diff)
			}
			want := observed{
				// ev, the update mask and the shared-list entry are left
				// for the pollers to notice (reference §4.8).
				Snap:   fdSnap{Open: false, State: 0, Ev: fdtable.ShutR, Thread: 0, Update: 0x3, Links: headOnly, Gen: 1},
				Local0: none, Local1: none, Shared: justFD,
				Used: 0,
			}
			if diff := cmp.Diff(want, e.observe()); diff != "" {
				t.Errorf("after %s (-want +got):\n%s", name, diff)
			}
			if got := e.tab.Owner(e.fd); got != nil {
				t.Errorf("Owner = %v, want nil", got)
			}
			if closed := fdIsClosed(e.fd); closed == keepOpen {
				t.Errorf("fd closed = %v, want %v", closed, !keepOpen)
			}
			// Pollers skip the stale entry without calling UpdateFD.
			if got := e.drain(0, true); len(got) != 0 {
				t.Errorf("drain 0 updated %v, want nothing", got)
			}
			if got := e.drain(1, true); len(got) != 0 {
				t.Errorf("drain 1 updated %v, want nothing", got)
			}
			if diff := cmp.Diff(none, e.rel(sharedList(e.tab))); diff != "" {
				t.Errorf("shared list after drains (-want +got):\n%s", diff)
			}
			// A second release fails cleanly and calls no hook.
			*e.calls = nil
			if err := e.th[0].Remove(e.fd); !errors.Is(err, fdtable.ErrNotOpen) {
				t.Errorf("second Remove: %v, want ErrNotOpen", err)
			}
			if len(*e.calls) != 0 {
				t.Errorf("second Remove called hooks %v", *e.calls)
			}
		})
	}
}

// TestDeleteWithoutPolledCallsNoHook: no thread polled the fd, no hook.
func TestDeleteWithoutPolledCallsNoHook(t *testing.T) {
	e := newEnv(t, 0x1)
	e.do("WantRecv", e.th[0].WantRecv)
	if err := e.sp.delete(e.th[0]); err != nil {
		t.Fatal(err)
	}
	if len(*e.calls) != 0 {
		t.Errorf("hooks called: %v", *e.calls)
	}
	if !fdIsClosed(e.fd) {
		t.Errorf("fd %d still open after Delete", e.fd)
	}
	if e.tab.Used() != 0 {
		t.Errorf("Used = %d, want 0", e.tab.Used())
	}
}

// TestUsedCounts follows Used through inserts, deletes and removes.
func TestUsedCounts(t *testing.T) {
	tab, ths := newTable(t, 1)
	a, b := socketPair(t), socketPair(t)
	steps := []struct {
		name string
		op   func() error
		want int
	}{
		{"insert a", func() error { return ths[0].Insert(a.FD, 1, nil, 1) }, 1},
		{"insert b", func() error { return ths[0].Insert(b.FD, 1, nil, 1) }, 2},
		{"insert a again", func() error { return ths[0].Insert(a.FD, 1, nil, 1) }, 2},
		{"remove b", func() error { return ths[0].Remove(b.FD) }, 1},
		{"remove b again", func() error { return ths[0].Remove(b.FD) }, 1},
		{"reinsert b", func() error { return ths[0].Insert(b.FD, 1, nil, 1) }, 2},
		{"delete a", func() error { return a.delete(ths[0]) }, 1},
		{"delete b", func() error { return b.delete(ths[0]) }, 0},
	}
	for _, s := range steps {
		s.op()
		if got := tab.Used(); got != s.want {
			t.Errorf("after %s: Used = %d, want %d", s.name, got, s.want)
		}
	}
}

// TestLinger covers reference §15 B 22 on a real TCP loopback connection:
// with linger risk, Delete makes the peer see a reset, without it a FIN.
func TestLinger(t *testing.T) {
	for _, tc := range []struct {
		name    string
		linger  bool
		wantErr error
	}{
		{"linger=true", true, syscall.ECONNRESET},
		{"linger=false", false, io.EOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Skipf("no loopback TCP: %v", err)
			}
			defer ln.Close()
			accepted := make(chan net.Conn, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					close(accepted)
					return
				}
				accepted <- c
			}()
			client, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			server, ok := <-accepted
			if !ok {
				t.Fatal("accept failed")
			}
			defer server.Close()

			// Give the table its own descriptor of the client socket;
			// closing the net.Conn afterwards sends nothing because the
			// table's descriptor keeps the socket alive.
			fd := dupConn(t, client.(*net.TCPConn))
			client.Close()

			tab, ths := newTable(t, 1)
			if err := ths[0].Insert(fd, client, nil, 1); err != nil {
				t.Fatal(err)
			}
			if tc.linger {
				if err := tab.SetLingerRisk(fd); err != nil {
					t.Fatal(err)
				}
				if !tab.LingerRisk(fd) {
					t.Fatal("LingerRisk false after SetLingerRisk")
				}
			}
			if err := ths[0].Delete(fd); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if !fdIsClosed(fd) {
				t.Fatalf("fd %d still open after Delete", fd)
			}
			server.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = server.Read(make([]byte, 1))
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("peer Read: %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestInsertClearsLingerAndCloned: a new life starts without the flags.
func TestInsertClearsLingerAndCloned(t *testing.T) {
	e := newEnv(t, 0x1)
	if err := e.tab.SetLingerRisk(e.fd); err != nil {
		t.Fatal(err)
	}
	e.tab.MarkCloned()
	if !e.tab.IsCloned(e.fd) || !e.tab.LingerRisk(e.fd) {
		t.Fatalf("flags not set: cloned=%v linger=%v", e.tab.IsCloned(e.fd), e.tab.LingerRisk(e.fd))
	}
	e.do("Remove", e.th[0].Remove)
	if e.tab.IsCloned(e.fd) || e.tab.LingerRisk(e.fd) {
		t.Errorf("closed fd reports cloned=%v linger=%v", e.tab.IsCloned(e.fd), e.tab.LingerRisk(e.fd))
	}
	e.insert(e.th[0], 0x1)
	if e.tab.IsCloned(e.fd) || e.tab.LingerRisk(e.fd) {
		t.Errorf("reinserted fd reports cloned=%v linger=%v", e.tab.IsCloned(e.fd), e.tab.LingerRisk(e.fd))
	}
	// A Remove with linger risk must not touch the kept-open socket.
	if err := e.tab.SetLingerRisk(e.fd); err != nil {
		t.Fatal(err)
	}
	e.do("Remove", e.th[0].Remove)
	if fdIsClosed(e.fd) {
		t.Error("Remove closed the fd")
	}
	l, err := unix.GetsockoptLinger(e.fd, unix.SOL_SOCKET, unix.SO_LINGER)
	if err != nil {
		t.Fatalf("getsockopt SO_LINGER: %v", err)
	}
	if l.Onoff != 0 {
		t.Errorf("Remove set SO_LINGER %+v on the kept-open fd", *l)
	}
}

func dupConn(t *testing.T, c *net.TCPConn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) { fd, derr = dupCloexec(int(s)) }); err != nil {
		t.Fatal(err)
	}
	if derr != nil {
		t.Fatalf("dup: %v", derr)
	}
	return fd
}

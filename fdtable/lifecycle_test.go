package fdtable_test

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

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

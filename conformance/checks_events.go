package conformance

import (
	"errors"
	"net"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	"golang.org/x/sys/unix"
)

func testReadable(h *harness) {
	tc := h.thread(0)
	rec := &recorder{drain: true}
	_, b := h.reader(tc, rec)
	h.poll(tc, poller.Eternity, true)
	h.write(b, 3)
	h.pollUntil(tc, "a read event", func() bool { return rec.calls.Load() > 0 })
	if got := rec.calls.Load(); got != 1 {
		h.t.Errorf("iocb calls = %d, want 1", got)
	}
	if ev := fdtable.State(rec.ev.Load()); ev&fdtable.ReadyR == 0 {
		h.t.Errorf("ev during iocb = %v, want IN set", ev)
	}
	if st := fdtable.State(rec.st.Load()); st&fdtable.ReadyR == 0 {
		h.t.Errorf("state during iocb = %v, want READY_R", st)
	}
	// The data was drained: no further event.
	h.pollFor(tc, 20)
	h.pollFor(tc, 20)
	if got := rec.calls.Load(); got != 1 {
		h.t.Errorf("iocb calls after draining = %d, want 1", got)
	}
}

func testWritable(h *harness) {
	tc := h.thread(0)
	a, _ := h.pair()
	rec := &recorder{}
	rec.fn = func(fd int) { tc.th.StopSend(fd) }
	h.insert(tc, a, rec, 0)
	h.must(tc.th.WantSend(a))
	h.must(tc.th.CantSend(a))
	h.pollUntil(tc, "a write event", func() bool { return rec.calls.Load() > 0 })
	if got := rec.calls.Load(); got != 1 {
		h.t.Errorf("iocb calls = %d, want 1", got)
	}
	if ev := fdtable.State(rec.ev.Load()); ev&fdtable.ReadyW == 0 {
		h.t.Errorf("ev during iocb = %v, want OUT set", ev)
	}
	if st := fdtable.State(rec.st.Load()); st&fdtable.ReadyW == 0 {
		h.t.Errorf("state during iocb = %v, want READY_W", st)
	}
	h.pollFor(tc, 10)
	h.pollFor(tc, 10)
	if got := rec.calls.Load(); got != 1 {
		h.t.Errorf("iocb calls after stop send = %d, want 1", got)
	}
}

func testPeerShutdown(h *harness) {
	tc := h.thread(0)
	rec := &recorder{drain: true}
	_, b := h.reader(tc, rec)
	h.poll(tc, poller.Eternity, true)
	h.must(unix.Shutdown(b, unix.SHUT_WR))
	h.pollUntil(tc, "the peer shutdown", func() bool { return rec.calls.Load() > 0 })
	if !rec.eof.Load() {
		h.t.Errorf("iocb was called but reading gave no EOF")
	}
	ev := fdtable.State(rec.ev.Load())
	if h.flags(tc)&poller.FlagRDHUP != 0 && ev&fdtable.ShutR == 0 {
		h.t.Errorf("ev = %v: backend has FlagRDHUP but did not report the peer shutdown (HUP)", ev)
	}
	if ev&fdtable.ShutR != 0 && h.flags(tc)&poller.FlagRDHUP == 0 {
		h.t.Errorf("ev = %v: backend reported the peer shutdown but lacks FlagRDHUP", ev)
	}
	if ev&fdtable.ErrRW != 0 {
		h.t.Errorf("ev = %v: a peer shutdown is not an error", ev)
	}
}

// testDataBeforeShutdown: data that arrived before the peer's shutdown is
// still readable when the shutdown is reported (netty #3729: act on RDHUP
// only after draining).
func testDataBeforeShutdown(h *harness) {
	tc := h.thread(0)
	a, b := h.pair()
	got := 0
	rec := &recorder{}
	rec.fn = func(fd int) {
		var buf [64]byte
		for {
			n, err := unix.Read(fd, buf[:])
			if n > 0 {
				got += n
				continue
			}
			if n == 0 && err == nil {
				rec.eof.Store(true)
			}
			if err == unix.EAGAIN {
				tc.th.CantRecv(fd)
			}
			return
		}
	}
	h.insert(tc, a, rec, 0)
	h.must(tc.th.WantRecv(a))
	h.must(tc.th.CantRecv(a))
	h.poll(tc, poller.Eternity, true)
	h.write(b, 5)
	h.must(unix.Shutdown(b, unix.SHUT_WR))
	h.pollUntil(tc, "the data and the shutdown", func() bool { return rec.eof.Load() })
	if got != 5 {
		h.t.Errorf("read %d bytes before EOF, want the 5 sent before the shutdown", got)
	}
	if ev := fdtable.State(rec.ev.Load()); ev&fdtable.ReadyR == 0 {
		h.t.Errorf("ev = %v: data pending with the shutdown, want IN set", ev)
	}
	if ev := fdtable.State(rec.ev.Load()); ev&fdtable.ErrRW != 0 {
		h.t.Errorf("ev = %v: a peer shutdown is not an error", ev)
	}
}

func testHangup(h *harness) {
	tc := h.thread(0)
	rec := &recorder{drain: true}
	_, b := h.reader(tc, rec)
	h.poll(tc, poller.Eternity, true)
	h.must(unix.Close(b))
	h.forget(b)
	h.pollUntil(tc, "the hangup", func() bool { return rec.calls.Load() > 0 })
	if !rec.eof.Load() {
		h.t.Errorf("iocb was called but reading gave no EOF")
	}
	ev := fdtable.State(rec.ev.Load())
	if h.flags(tc)&(poller.FlagERRHUP|poller.FlagRDHUP) != 0 && ev&fdtable.ShutR == 0 {
		h.t.Errorf("ev = %v: backend reports hangups (%v) but HUP is not set", ev, h.flags(tc))
	}
	if st := fdtable.State(rec.st.Load()); st&fdtable.ReadyR == 0 {
		h.t.Errorf("state = %v, want READY_R after a hangup", st)
	}
}

// refusedSocket returns a non-blocking TCP socket whose connection to a
// closed loopback port is being refused.
func (h *harness) refusedSocket() int {
	h.t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		h.t.Fatalf("listen: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	for try := 0; try < 20; try++ {
		fd, err := tcpSocket()
		if err != nil {
			h.t.Fatalf("socket: %v", err)
		}
		h.fds[fd] = true
		err = unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
		if err == unix.EINPROGRESS {
			return fd
		}
		unix.Close(fd)
		h.forget(fd)
		if err != unix.ECONNREFUSED {
			h.t.Fatalf("connect: %v", err)
		}
	}
	h.t.Skipf("this kernel refuses loopback connections synchronously; no pending error to observe")
	return -1
}

func testError(h *harness) {
	tc := h.thread(0)
	fd := h.refusedSocket()
	rec := &recorder{}
	rec.fn = func(fd int) { tc.th.StopBoth(fd) }
	h.insert(tc, fd, rec, 0)
	h.must(tc.th.WantSend(fd))
	h.must(tc.th.CantSend(fd))
	h.must(tc.th.CantRecv(fd))
	h.pollUntil(tc, "the connection error", func() bool { return rec.calls.Load() > 0 })
	ev := fdtable.State(rec.ev.Load())
	st := fdtable.State(rec.st.Load())
	if h.flags(tc)&poller.FlagERRHUP != 0 {
		if ev&fdtable.ErrRW == 0 {
			h.t.Errorf("ev = %v: backend has FlagERRHUP but did not report the error", ev)
		}
		if ready := fdtable.ReadyR | fdtable.ReadyW; st&ready != ready {
			h.t.Errorf("state = %v: an error must make both directions ready", st)
		}
	}
	soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil || soerr != int(unix.ECONNREFUSED) {
		h.t.Errorf("SO_ERROR = %d, %v; want ECONNREFUSED pending when the iocb ran", soerr, err)
	}
}

func testNoCallbackWhenInactive(h *harness) {
	tc := h.thread(0)
	a, b := h.pair()
	rec := &recorder{}
	h.insert(tc, a, rec, 0)
	h.must(tc.th.WantRecv(a))
	h.must(tc.th.WantSend(a))
	h.must(tc.th.CantRecv(a))
	h.poll(tc, poller.Eternity, true) // may report writability
	h.must(tc.th.StopBoth(a))
	before := rec.calls.Load()
	h.write(b, 1)
	for i := 0; i < 3; i++ {
		h.pollFor(tc, 10)
	}
	if n := rec.calls.Load() - before; n != 0 {
		h.t.Errorf("iocb called %d times for an fd active in no direction, want 0", n)
	}
	if got := h.polled(tc, a); got != "-" {
		h.t.Errorf("polled = %s after unwanted events, want -", got)
	}
}

func testDynamicRDHUP(h *harness) {
	tc := h.thread(0)
	static := h.b.Flags&poller.FlagRDHUP != 0
	if !static && h.flags(tc)&poller.FlagRDHUP != 0 {
		h.t.Fatalf("instance has FlagRDHUP before any event (flags %v); it must be added when first seen", h.flags(tc))
	}
	rec := &recorder{drain: true}
	_, b := h.reader(tc, rec)
	h.poll(tc, poller.Eternity, true)
	h.write(b, 1)
	h.pollUntil(tc, "a read event", func() bool { return rec.calls.Load() > 0 })
	if !static && h.flags(tc)&poller.FlagRDHUP != 0 {
		h.t.Errorf("FlagRDHUP set after a plain read event; it must wait for a peer shutdown")
	}
	h.must(unix.Shutdown(b, unix.SHUT_WR))
	h.pollUntil(tc, "the peer shutdown", func() bool { return rec.eof.Load() })
	ev := fdtable.State(rec.ev.Load())
	has := h.flags(tc)&poller.FlagRDHUP != 0
	switch {
	case ev&fdtable.ShutR != 0 && !has:
		h.t.Errorf("peer shutdown reported (ev %v) but FlagRDHUP not set", ev)
	case ev&fdtable.ShutR == 0 && has:
		h.t.Errorf("FlagRDHUP set but the peer shutdown was not reported (ev %v)", ev)
	case !has && !static:
		h.t.Skipf("backend %s does not report peer shutdown (no FlagRDHUP)", h.b.Name)
	}
}

func testMigratedFD(h *harness) {
	t0 := h.thread(0)
	t1 := h.thread(1)
	a, b := h.pair()
	rec := &recorder{drain: true}
	h.insert(t0, a, rec, t0.th.Bit())
	h.must(t0.th.WantRecv(a))
	h.must(t0.th.CantRecv(a))
	h.poll(t0, poller.Eternity, true)
	if got := h.polled(t0, a); got != "R" {
		h.t.Fatalf("thread 0 polled = %s, want R", got)
	}
	h.must(t1.th.Takeover(a, h.tab.Info(a).Gen))
	h.must(t1.th.WantRecv(a))
	h.poll(t1, poller.Eternity, true)
	h.write(b, 1)
	// Thread 0 must drop the fd without calling its iocb.
	for i := 0; i < 3 && h.polled(t0, a) != "-"; i++ {
		h.pollFor(t0, 20)
	}
	if n := rec.calls.Load(); n != 0 {
		h.t.Errorf("old owner called the iocb %d times, want 0", n)
	}
	if got := h.polled(t0, a); got != "-" {
		h.t.Errorf("old owner still polls the migrated fd (%s)", got)
	}
	if got := t0.ctx.Activity.PollSkipFD.Load(); got == 0 {
		h.t.Errorf("poll_skip_fd = 0 on the old owner, want > 0")
	}
	h.pollUntil(t1, "delivery on the new owner", func() bool { return rec.calls.Load() > 0 })
	if got := h.polled(t1, a); got != "R" {
		h.t.Errorf("new owner polled = %s, want R", got)
	}
}

// errIOCBPanic is the value testPanickingIOCB's iocb panics with.
var errIOCBPanic = errors.New("conformance: iocb panic")

// testPanickingIOCB: an iocb that panics inside Poll does not leave its fd
// marked as running: the panic reaches Poll's caller, and a Delete on
// another goroutine then returns at once instead of waiting forever for
// the iocb (backends defer fdtable.Thread.EndDispatch in Poll).
func testPanickingIOCB(h *harness) {
	tc := h.thread(0)
	rec := &recorder{}
	rec.fn = func(int) { panic(errIOCBPanic) }
	a, b := h.reader(tc, rec)
	h.poll(tc, poller.Eternity, true)
	h.write(b, 1)
	var got any
	deadline := time.Now().Add(5 * time.Second)
	for got == nil && time.Now().Before(deadline) {
		func() {
			defer func() { got = recover() }()
			if err := tc.p.Poll(tc.ctx.UpdateTime().Add(20), false); err != nil {
				h.t.Fatalf("unexpected Poll error: %v", err)
			}
		}()
	}
	if got != errIOCBPanic {
		h.t.Fatalf("Poll's caller recovered %v, want the iocb's panic", got)
	}
	if m := h.tab.Info(a).Running; m != 0 {
		h.t.Errorf("running mask %#x after the iocb panicked, want 0", m)
	}
	done := make(chan error, 1)
	go func() { done <- h.tab.External().Delete(a) }()
	select {
	case err := <-done:
		h.forget(a)
		if err != nil {
			h.t.Errorf("Delete after the iocb panicked: %v", err)
		}
	case <-time.After(5 * time.Second):
		h.t.Fatalf("Delete on another goroutine still waiting for the iocb that panicked")
	}
}

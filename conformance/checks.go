package conformance

import (
	"errors"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

type check struct {
	name string
	fn   func(h *harness)
}

// checks is the suite, in the order Run runs it.
var checks = []check{
	{"RegisterOnWantRecv", testRegisterOnWantRecv},
	{"RegisterOnWantSend", testRegisterOnWantSend},
	{"RegisterOnWantBoth", testRegisterOnWantBoth},
	{"NoKernelUpdateWhenUnchanged", testNoUpdateWhenUnchanged},
	{"DeduplicatedUpdates", testDeduplicatedUpdates},
	{"LazyStop", testLazyStop},
	{"DroppedDeletedFD", testDroppedDeletedFD},
	{"DeadFDEvent", testDeadFDEvent},
	{"Readable", testReadable},
	{"Writable", testWritable},
	{"PeerShutdown", testPeerShutdown},
	{"DataBeforePeerShutdown", testDataBeforeShutdown},
	{"Hangup", testHangup},
	{"Error", testError},
	{"NoCallbackWhenInactive", testNoCallbackWhenInactive},
	{"DynamicRDHUP", testDynamicRDHUP},
	{"MigratedFD", testMigratedFD},
	{"TimeoutNotEarly", testTimeoutNotEarly},
	{"WakeDoesNotBlock", testWakeDoesNotBlock},
	{"ExpiredTimer", testExpiredTimer},
	{"EternityWaitsForEvent", testEternityWaitsForEvent},
	{"ShortTimeoutNotBusy", testShortTimeoutNotBusy},
	{"SleepingBitCleared", testSleepingBitCleared},
	{"OneKernelWaitPerCycle", testOneWaitPerCycle},
	{"BusyPolling", testBusyPolling},
	{"PollIOPerCycle", testPollIOPerCycle},
	{"MaxEventsPerPoll", testMaxEventsPerPoll},
	{"ManyFDs", testManyFDs},
	{"FDReuseNoStaleEvent", testFDReuse},
	{"RemoveDeregisters", testRemoveDeregisters},
	{"ClonedFDDeregisteredOnDelete", testClonedDelete},
	{"DupedFDDeleteNoBusyLoop", testDupedDelete},
	{"ForkKeepsDelivering", testFork},
	{"TermNoLeak", testTermNoLeak},
	{"ConcurrentUpdates", testConcurrentUpdates},
	{"LateInstance", testLateInstance},
	{"RemoveWhilePolling", testRemoveWhilePolling},
	{"ReinsertWhileDispatching", testReinsertWhileDispatching},
	{"PerFDErrorIsEvent", testPerFDErrorIsEvent},
	{"ForkRecreates", testForkRecreates},
	{"ReadyRemarked", testReadyRemarked},
	{"CloseCostsNoKernelUpdate", testCloseCostsNoKernelUpdate},
	{"TermOfReplacedInstance", testTermOfReplacedInstance},
}

// Run runs the conformance suite against backend b, one subtest per check.
func Run(t *testing.T, b poller.Backend) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			c.fn(newHarness(t, b))
		})
	}
}

func testRegisterOnWantRecv(h *harness) {
	tc := h.thread(0)
	a, _ := h.pair()
	h.insert(tc, a, &recorder{}, 0)
	h.must(tc.th.WantRecv(a))
	if got := h.polled(tc, a); got != "-" {
		h.t.Fatalf("polled before the poll cycle = %s, want -", got)
	}
	h.poll(tc, poller.Eternity, true)
	if got := h.polled(tc, a); got != "R" {
		h.t.Errorf("polled after want recv = %s, want R", got)
	}
}

func testRegisterOnWantSend(h *harness) {
	tc := h.thread(0)
	a, _ := h.pair()
	h.insert(tc, a, &recorder{}, 0)
	h.must(tc.th.WantSend(a))
	h.poll(tc, poller.Eternity, true)
	// READY_R is set by Insert, so only the write direction is polled.
	if got := h.polled(tc, a); got != "W" {
		h.t.Errorf("polled after want send = %s, want W", got)
	}
}

func testRegisterOnWantBoth(h *harness) {
	tc := h.thread(0)
	a, _ := h.pair()
	h.insert(tc, a, &recorder{}, 0)
	h.must(tc.th.WantRecv(a))
	h.must(tc.th.WantSend(a))
	h.poll(tc, poller.Eternity, true)
	if got := h.polled(tc, a); got != "RW" {
		h.t.Errorf("polled after want both = %s, want RW", got)
	}
}

func testNoUpdateWhenUnchanged(h *harness) {
	tc := h.thread(0)
	uc, ok := h.counter(tc)
	if !ok {
		h.t.Skipf("backend %s does not count kernel updates (conformance.UpdateCounter)", h.b.Name)
	}
	a, _ := h.pair()
	h.insert(tc, a, &recorder{}, 0)
	h.must(tc.th.WantRecv(a))
	h.poll(tc, poller.Eternity, true)
	before := uc.KernelUpdates()
	// A stop followed by a want within one iteration changes nothing.
	h.must(tc.th.StopRecv(a))
	h.must(tc.th.WantRecv(a))
	h.poll(tc, poller.Eternity, true)
	h.poll(tc, poller.Eternity, true)
	if got := uc.KernelUpdates() - before; got != 0 {
		h.t.Errorf("kernel updates after stop+want = %d, want 0", got)
	}
	if got := h.polled(tc, a); got != "R" {
		h.t.Errorf("polled = %s, want R", got)
	}
}

func testDeduplicatedUpdates(h *harness) {
	tc := h.thread(0)
	a, _ := h.pair()
	h.insert(tc, a, &recorder{}, 0)
	h.must(tc.th.WantRecv(a))
	h.must(tc.th.WantRecv(a))
	h.must(tc.th.WantSend(a))
	if got := h.tab.Info(a).Updates; got != tc.th.Bit() {
		h.t.Fatalf("update mask = %#x, want this thread's bit only", got)
	}
	uc, ok := h.counter(tc)
	var before uint64
	if ok {
		before = uc.KernelUpdates()
	}
	h.poll(tc, poller.Eternity, true)
	if ok {
		if got := uc.KernelUpdates() - before; got != 1 {
			h.t.Errorf("kernel updates for want recv+recv+send = %d, want 1", got)
		}
	}
	if got := h.polled(tc, a); got != "RW" {
		h.t.Errorf("polled = %s, want RW", got)
	}
	if m := h.tab.Info(a).Updates; m != 0 {
		h.t.Errorf("update mask %#x after the cycle, want 0", m)
	}
}

func testLazyStop(h *harness) {
	tc := h.thread(0)
	rec := &recorder{}
	a, b := h.reader(tc, rec)
	h.poll(tc, poller.Eternity, true)
	h.must(tc.th.StopBoth(a))
	if m := h.tab.Info(a).Updates; m != 0 {
		h.t.Fatalf("stop queued an update (update mask %#x); stop must be lazy", m)
	}
	h.poll(tc, poller.Eternity, true)
	if got := h.polled(tc, a); got != "R" {
		h.t.Fatalf("polled after stop = %s, want R (lazy stop keeps the registration)", got)
	}
	h.write(b, 1)
	h.pollUntil(tc, "the unwanted read event", func() bool { return h.tab.Info(a).State&fdtable.ReadyR != 0 })
	if n := rec.calls.Load(); n != 0 {
		h.t.Errorf("iocb called %d times for an fd active in no direction, want 0", n)
	}
	h.poll(tc, poller.Eternity, true)
	if got := h.polled(tc, a); got != "-" {
		h.t.Errorf("polled after the unwanted event = %s, want - (deregistered)", got)
	}
}

func testDroppedDeletedFD(h *harness) {
	tc := h.thread(0)
	a, _ := h.pair()
	h.insert(tc, a, &recorder{}, 0)
	h.must(tc.th.WantRecv(a))
	h.must(tc.th.Delete(a))
	h.forget(a)
	h.poll(tc, poller.Eternity, true)
	if got := tc.ctx.Activity.PollDropFD.Load(); got != 1 {
		h.t.Errorf("poll_drop_fd = %d, want 1", got)
	}
	if got := h.polled(tc, a); got != "-" {
		h.t.Errorf("polled = %s, want -", got)
	}
}

func testDeadFDEvent(h *harness) {
	tc := h.thread(0)
	a, a2 := h.pair()
	b, b2 := h.pair()
	ra, rb := &recorder{drain: true}, &recorder{drain: true}
	kill := func(other int) func(int) {
		return func(int) {
			if h.tab.Info(other).Open {
				if err := tc.th.Delete(other); err != nil {
					h.t.Errorf("Delete(%d) from iocb: %v", other, err)
				}
				h.forget(other)
			}
		}
	}
	ra.fn, rb.fn = kill(b), kill(a)
	h.insert(tc, a, ra, 0)
	h.insert(tc, b, rb, 0)
	h.must(tc.th.WantRecv(a))
	h.must(tc.th.WantRecv(b))
	h.poll(tc, poller.Eternity, true)
	h.write(a2, 1)
	h.write(b2, 1)
	h.pollUntil(tc, "a read event", func() bool { return ra.calls.Load()+rb.calls.Load() > 0 })
	if got := ra.calls.Load() + rb.calls.Load(); got != 1 {
		h.t.Errorf("iocb calls = %d, want 1 (the second fd was deleted by the first callback)", got)
	}
	act := &tc.ctx.Activity
	if got := act.PollDeadFD.Load(); got != 1 {
		h.t.Errorf("poll_dead_fd = %d, want 1", got)
	}
}

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
	if ev := fdtable.PollEv(rec.ev.Load()); ev&fdtable.PollIn == 0 {
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
	if ev := fdtable.PollEv(rec.ev.Load()); ev&fdtable.PollOut == 0 {
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
	ev := fdtable.PollEv(rec.ev.Load())
	if h.flags(tc)&poller.FlagRDHUP != 0 && ev&fdtable.PollHup == 0 {
		h.t.Errorf("ev = %v: backend has FlagRDHUP but did not report the peer shutdown (HUP)", ev)
	}
	if ev&fdtable.PollHup != 0 && h.flags(tc)&poller.FlagRDHUP == 0 {
		h.t.Errorf("ev = %v: backend reported the peer shutdown but lacks FlagRDHUP", ev)
	}
	if ev&fdtable.PollErr != 0 {
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
	if ev := fdtable.PollEv(rec.ev.Load()); ev&fdtable.PollIn == 0 {
		h.t.Errorf("ev = %v: data pending with the shutdown, want IN set", ev)
	}
	if ev := fdtable.PollEv(rec.ev.Load()); ev&fdtable.PollErr != 0 {
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
	ev := fdtable.PollEv(rec.ev.Load())
	if h.flags(tc)&(poller.FlagERRHUP|poller.FlagRDHUP) != 0 && ev&fdtable.PollHup == 0 {
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
	ev := fdtable.PollEv(rec.ev.Load())
	st := fdtable.State(rec.st.Load())
	if h.flags(tc)&poller.FlagERRHUP != 0 {
		if ev&fdtable.PollErr == 0 {
			h.t.Errorf("ev = %v: backend has FlagERRHUP but did not report the error", ev)
		}
		if st&fdtable.ReadyRW != fdtable.ReadyRW {
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
	ev := fdtable.PollEv(rec.ev.Load())
	has := h.flags(tc)&poller.FlagRDHUP != 0
	switch {
	case ev&fdtable.PollHup != 0 && !has:
		h.t.Errorf("peer shutdown reported (ev %v) but FlagRDHUP not set", ev)
	case ev&fdtable.PollHup == 0 && has:
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

func testTimeoutNotEarly(h *harness) {
	tc := h.thread(0)
	for _, d := range []int{1, 10, 50} {
		exp := tc.ctx.UpdateTime().Add(d)
		start := time.Now()
		h.poll(tc, exp, false)
		if el := time.Since(start); el < time.Duration(d)*time.Millisecond {
			h.t.Errorf("Poll with a %d ms timer returned after %s, before the timer", d, ms(el))
		}
		if now := tc.ctx.UpdateTime(); !exp.IsExpired(now) {
			h.t.Errorf("after Poll with a %d ms timer the timer has not expired (now %d, exp %d)", d, now, exp)
		}
	}
}

func testWakeDoesNotBlock(h *harness) {
	tc := h.thread(0)
	before := tc.ctx.Activity.PollExp.Load()
	start := time.Now()
	for i := 0; i < 5; i++ {
		h.poll(tc, poller.Eternity, true)
		h.poll(tc, tc.ctx.UpdateTime().Add(5000), true)
	}
	if el := time.Since(start); el > 500*time.Millisecond {
		h.t.Errorf("10 polls with wake set took %s; wake must not wait", ms(el))
	}
	if got := tc.ctx.Activity.PollExp.Load(); got != before {
		h.t.Errorf("poll_exp changed by %d with wake set, want 0", got-before)
	}
}

func testExpiredTimer(h *harness) {
	tc := h.thread(0)
	start := time.Now()
	exp := tc.ctx.UpdateTime().Add(-5)
	h.poll(tc, exp, false)
	if el := time.Since(start); el > 500*time.Millisecond {
		h.t.Errorf("Poll with an expired timer took %s", ms(el))
	}
	if got := tc.ctx.Activity.PollExp.Load(); got != 1 {
		h.t.Errorf("poll_exp = %d, want 1", got)
	}
}

func testEternityWaitsForEvent(h *harness) {
	tc := h.thread(0)
	rec := &recorder{drain: true}
	_, b := h.reader(tc, rec)
	h.poll(tc, poller.Eternity, true)
	const delay = 100 * time.Millisecond
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(delay)
		unix.Write(b, []byte{1})
	}()
	for i := 0; i < 3 && rec.calls.Load() == 0; i++ {
		h.poll(tc, poller.Eternity, false)
	}
	el := time.Since(start)
	<-done
	if rec.calls.Load() != 1 {
		h.t.Fatalf("iocb calls = %d after waiting with no timer, want 1", rec.calls.Load())
	}
	if el < delay {
		h.t.Errorf("Poll returned after %s, before the event was sent", ms(el))
	}
}

func testShortTimeoutNotBusy(h *harness) {
	tc := h.thread(0)
	const n = 20
	start := time.Now()
	for i := 0; i < n; i++ {
		h.poll(tc, tc.ctx.UpdateTime().Add(1), false)
	}
	if el := time.Since(start); el < n*time.Millisecond {
		h.t.Errorf("%d polls with a 1 ms timer took %s, want >= %d ms (a sub-timer wait must not become 0)", n, ms(el), n)
	}
}

func (h *harness) waitCounter(tc *tctx) WaitCounter {
	h.t.Helper()
	wc, ok := tc.p.(WaitCounter)
	if !ok {
		h.t.Skipf("backend %s does not count kernel waits (conformance.WaitCounter)", h.b.Name)
	}
	return wc
}

func testOneWaitPerCycle(h *harness) {
	tc := h.thread(0)
	wc := h.waitCounter(tc)
	for _, wake := range []bool{true, false} {
		before := wc.KernelWaits()
		for i := 0; i < 5; i++ {
			h.poll(tc, tc.ctx.UpdateTime().Add(1), wake)
		}
		if got := wc.KernelWaits() - before; got != 5 {
			h.t.Errorf("5 cycles without events (wake %v) made %d kernel waits, want 5", wake, got)
		}
	}
}

func testBusyPolling(h *harness) {
	tc := h.thread(0)
	wc := h.waitCounter(tc)
	tc.ctx.BusyPolling.Store(true)
	const d = 30
	exp := tc.ctx.UpdateTime().Add(d)
	before := wc.KernelWaits()
	start := time.Now()
	h.poll(tc, exp, false)
	el := time.Since(start)
	waits := wc.KernelWaits() - before
	if h.flags(tc)&poller.FlagBusyPoll == 0 {
		// Not declared: the option must change nothing.
		if waits != 1 {
			h.t.Fatalf("backend %s does not declare poller.FlagBusyPoll but made %d kernel waits in a busy-polling cycle", h.b.Name, waits)
		}
		h.t.Skipf("backend %s does not declare busy polling (poller.FlagBusyPoll)", h.b.Name)
	}
	if el < d*time.Millisecond {
		h.t.Errorf("busy poll with a %d ms timer returned after %s", d, ms(el))
	}
	// Spinning on zero-timeout waits until the timer expires (a blocking
	// wait would be one call; a loaded machine may deschedule the spinner,
	// so only a few calls are required).
	if waits < 3 {
		h.t.Errorf("busy poll made %d kernel waits in %s, want it to spin", waits, ms(el))
	}
	// An event ends the spin at once.
	rec := &recorder{drain: true}
	_, b := h.reader(tc, rec)
	h.poll(tc, poller.Eternity, true)
	h.write(b, 1)
	start = time.Now()
	h.poll(tc, tc.ctx.UpdateTime().Add(2000), false)
	if rec.calls.Load() != 1 {
		h.t.Errorf("busy poll did not deliver the pending event")
	}
	if el := time.Since(start); el > time.Second {
		h.t.Errorf("busy poll with an event pending took %s", ms(el))
	}
	// Wake ends it too, and clearing the option stops spinning.
	tc.ctx.BusyPolling.Store(false)
	before = wc.KernelWaits()
	h.pollFor(tc, 5)
	if got := wc.KernelWaits() - before; got != 1 {
		h.t.Errorf("after clearing BusyPolling a cycle made %d kernel waits, want 1", got)
	}
}

func testSleepingBitCleared(h *harness) {
	tc := h.thread(0)
	bit := tc.th.Bit()
	tc.ctx.Sleeping.Or(bit)
	h.pollFor(tc, 1)
	if tc.ctx.Sleeping.Load()&bit != 0 {
		h.t.Errorf("sleeping bit still set after the poll cycle")
	}
}

func testPollIOPerCycle(h *harness) {
	tc := h.thread(0)
	recs := make([]*recorder, 3)
	var peers []int
	for i := range recs {
		recs[i] = &recorder{drain: true}
		_, b := h.reader(tc, recs[i])
		peers = append(peers, b)
	}
	h.poll(tc, poller.Eternity, true)
	io := tc.ctx.Activity.PollIO.Load()
	for _, b := range peers {
		h.write(b, 1)
	}
	total := 0
	for i := 0; i < 5 && total < 3; i++ {
		h.pollFor(tc, 20)
		total = 0
		for _, r := range recs {
			total += int(r.calls.Load())
		}
	}
	cycles := tc.ctx.Activity.PollIO.Load() - io
	if total != 3 {
		h.t.Fatalf("iocb calls = %d, want 3", total)
	}
	if cycles < 1 || cycles > 3 {
		h.t.Errorf("poll_io grew by %d for 3 events, want one per cycle with events", cycles)
	}
	h.pollFor(tc, 5)
	if got := tc.ctx.Activity.PollIO.Load() - io; got != cycles {
		h.t.Errorf("poll_io grew on a cycle without events")
	}
}

func testMaxEventsPerPoll(h *harness) {
	const max, n = 4, 10
	tc := h.thread(0, func(c *poller.Context) { c.MaxEvents = max })
	recs := make([]*recorder, n)
	for i := range recs {
		recs[i] = &recorder{drain: true}
		_, b := h.reader(tc, recs[i])
		h.write(b, 1)
	}
	total := 0
	for cycle := 0; cycle < 10 && total < n; cycle++ {
		prev := total
		h.pollFor(tc, 20)
		total = 0
		for _, r := range recs {
			total += int(r.calls.Load())
		}
		if total-prev > max {
			h.t.Fatalf("one poll cycle delivered %d events, MaxEvents is %d", total-prev, max)
		}
	}
	if total != n {
		h.t.Errorf("delivered %d events over the cycles, want %d", total, n)
	}
	for i, r := range recs {
		if r.calls.Load() != 1 {
			h.t.Errorf("fd #%d: iocb calls = %d, want 1", i, r.calls.Load())
		}
	}
}

func testManyFDs(h *harness) {
	const pairs = 500 // 1000 registered fds
	tc := h.thread(0, func(c *poller.Context) { c.MaxEvents = 256 })
	recs := map[int]*recorder{}
	peers := map[int]int{}
	for i := 0; i < pairs; i++ {
		a, b := h.pair()
		if a >= h.tab.MaxFDs() || b >= h.tab.MaxFDs() {
			h.t.Skipf("needs %d fds below the table limit of %d fds the backend accepts", 2*pairs, h.tab.MaxFDs())
		}
		peers[a], peers[b] = b, a
	}
	for fd := range peers {
		recs[fd] = &recorder{drain: true}
		h.insert(tc, fd, recs[fd], 0)
		h.must(tc.th.WantRecv(fd))
		h.must(tc.th.CantRecv(fd))
	}
	h.poll(tc, poller.Eternity, true)
	for fd := range peers {
		h.write(fd, 1)
	}
	h.pollUntil(tc, "1000 read events", func() bool {
		for _, r := range recs {
			if r.calls.Load() == 0 {
				return false
			}
		}
		return true
	})
	h.pollFor(tc, 5)
	for fd, r := range recs {
		if r.calls.Load() != 1 {
			h.t.Errorf("fd %d: iocb calls = %d, want 1", fd, r.calls.Load())
		}
	}
}

func testFDReuse(h *harness) {
	tc := h.thread(0)
	a, a2 := h.pair()
	b, b2 := h.pair()
	newRec := &recorder{}
	replaced := -1
	replace := func(victim int) func(int) {
		return func(int) {
			if replaced >= 0 || !h.tab.Info(victim).Open {
				return
			}
			replaced = victim
			h.must(tc.th.Delete(victim))
			h.forget(victim)
			c, c2 := h.pair()
			// Put a fresh, idle socket at the victim's fd number.
			if c != victim {
				if err := dupTo(c, victim); err != nil {
					h.t.Fatalf("dup2(%d, %d): %v", c, victim, err)
				}
				unix.Close(c)
				h.forget(c)
			}
			h.fds[victim] = true
			_ = c2
			h.insert(tc, victim, newRec, 0)
			h.must(tc.th.WantRecv(victim))
		}
	}
	ra, rb := &recorder{drain: true}, &recorder{drain: true}
	ra.fn, rb.fn = replace(b), replace(a)
	h.insert(tc, a, ra, 0)
	h.insert(tc, b, rb, 0)
	h.must(tc.th.WantRecv(a))
	h.must(tc.th.WantRecv(b))
	h.must(tc.th.CantRecv(a))
	h.must(tc.th.CantRecv(b))
	h.poll(tc, poller.Eternity, true)
	h.write(a2, 1)
	h.write(b2, 1)
	h.pollUntil(tc, "a read event", func() bool { return replaced >= 0 })
	for i := 0; i < 3; i++ {
		h.pollFor(tc, 10)
	}
	if n := newRec.calls.Load(); n != 0 {
		h.t.Errorf("the new owner of fd %d got %d iocb calls meant for the previous owner, want 0", replaced, n)
	}
	if got := tc.ctx.Activity.PollStaleFD.Load(); got != 1 {
		h.t.Errorf("poll_stale_fd = %d, want 1 (the old event of fd %d dropped)", got, replaced)
	}
}

func testRemoveDeregisters(h *harness) {
	tc := h.thread(0)
	a, b := h.pair()
	h.insert(tc, a, &recorder{}, 0)
	h.must(tc.th.WantRecv(a))
	h.poll(tc, poller.Eternity, true)
	h.must(tc.th.Remove(a))
	h.checkKernel()
	h.write(b, 1)
	h.pollFor(tc, 10)
	h.pollFor(tc, 10)
	act := &tc.ctx.Activity
	if d, s := act.PollDeadFD.Load(), act.PollStaleFD.Load(); d+s != 0 {
		h.t.Errorf("events for a removed fd: poll_dead_fd %d, poll_stale_fd %d; Remove must deregister it", d, s)
	}
}

func testClonedDelete(h *harness) {
	tc := h.thread(0)
	t1 := h.thread(1)
	a, b := h.pair()
	// Shared by both threads, registered on both.
	h.insert(tc, a, &recorder{}, tc.th.Bit()|t1.th.Bit())
	h.must(tc.th.WantRecv(a))
	h.poll(tc, poller.Eternity, true)
	h.poll(t1, poller.Eternity, true)
	if got := h.polled(tc, a) + h.polled(t1, a); got != "RR" {
		h.t.Fatalf("polled on threads 0 and 1 = %s, want RR", got)
	}
	// Another process (here, a dup) keeps the file description open.
	dup, err := unix.Dup(a)
	if err != nil {
		h.t.Fatalf("dup: %v", err)
	}
	h.fds[dup] = true
	h.tab.MarkCloned()
	h.must(tc.th.Delete(a))
	h.forget(a)
	h.checkKernel()
	h.write(b, 1)
	for _, c := range []*tctx{tc, t1} {
		h.pollFor(c, 10)
		h.pollFor(c, 10)
		act := &c.ctx.Activity
		if d, s := act.PollDeadFD.Load(), act.PollStaleFD.Load(); d+s != 0 {
			h.t.Errorf("thread %d: events for a deleted cloned fd: poll_dead_fd %d, poll_stale_fd %d; it must be deregistered before close on every thread", c.tid, d, s)
		}
	}
}

// testDupedDelete: an fd deleted through the table while a dup keeps its
// file open (and readable) must not make every later cycle return at once
// (libuv #4323). A backend may report it dead a few times before it
// recovers, no more.
func testDupedDelete(h *harness) {
	tc := h.thread(0)
	a, b := h.pair()
	h.insert(tc, a, &recorder{}, 0)
	h.must(tc.th.WantRecv(a))
	h.poll(tc, poller.Eternity, true)
	dup, err := unix.Dup(a)
	if err != nil {
		h.t.Fatalf("dup: %v", err)
	}
	h.fds[dup] = true
	h.must(tc.th.Delete(a)) // not marked cloned
	h.forget(a)
	h.write(b, 1)
	const cycles, waitMS, spins = 8, 20, 3
	start := time.Now()
	for i := 0; i < cycles; i++ {
		// Not h.poll: until the backend recovers, the kernel legitimately
		// holds a registration no polled mask records.
		if err := tc.p.Poll(tc.ctx.UpdateTime().Add(waitMS), false); err != nil {
			h.t.Fatalf("unexpected Poll error: %v", err)
		}
	}
	if el, min := time.Since(start), (cycles-spins)*waitMS*time.Millisecond; el < min {
		h.t.Errorf("%d cycles with a %d ms timer took %s, want >= %s: the deleted fd's file keeps waking the poller", cycles, waitMS, ms(el), ms(min))
	}
	act := &tc.ctx.Activity
	if d, s := act.PollDeadFD.Load(), act.PollStaleFD.Load(); d+s > spins {
		h.t.Errorf("poll_dead_fd %d + poll_stale_fd %d over %d cycles, want at most %d", d, s, cycles, spins)
	}
	// Recovered: the kernel holds nothing the masks do not record.
	h.checkKernel()
}

func testFork(h *harness) {
	tc := h.thread(0)
	rec := &recorder{drain: true}
	a, b := h.reader(tc, rec)
	h.poll(tc, poller.Eternity, true)
	before := len(countFDs())
	if err := tc.p.Fork(); err != nil {
		h.t.Fatalf("unexpected Fork error: %v", err)
	}
	if after := len(countFDs()); after != before {
		h.t.Errorf("open fds %d before Fork, %d after", before, after)
	}
	h.checkKernel()
	h.write(b, 1)
	h.pollUntil(tc, "an event after Fork", func() bool { return rec.calls.Load() > 0 })
	if got := h.polled(tc, a); got != "R" {
		h.t.Errorf("polled after Fork = %s, want R", got)
	}
}

func testTermNoLeak(h *harness) {
	gor := goleak.IgnoreCurrent()
	before := countFDs()
	th, err := h.tab.NewThread(5)
	if err != nil {
		h.t.Fatalf("NewThread: %v", err)
	}
	ctx := poller.NewContext(th)
	p, err := h.b.New(ctx)
	if err != nil {
		h.t.Fatalf("unexpected New error: %v", err)
	}
	a, b := h.pair()
	h.insert(&tctx{th: th, ctx: ctx, p: p, tid: 5}, a, &recorder{}, 0)
	h.must(th.WantRecv(a))
	h.must(th.WantSend(a))
	if err := p.Poll(poller.Eternity, true); err != nil {
		h.t.Fatalf("unexpected Poll error: %v", err)
	}
	h.must(th.Remove(a))
	unix.Close(a)
	unix.Close(b)
	h.forget(a)
	h.forget(b)
	if err := p.Close(); err != nil {
		h.t.Errorf("unexpected Term error: %v", err)
	}
	if err := p.Close(); err != nil {
		h.t.Errorf("second Term: %v, want nil (Term is idempotent)", err)
	}
	if err := p.Poll(poller.Eternity, true); !errors.Is(err, poller.ErrClosed) {
		h.t.Errorf("Poll after Term = %v, want poller.ErrClosed", err)
	}
	after := countFDs()
	if d := cmp.Diff(before, after); d != "" {
		h.t.Errorf("fds leaked by New+Term (-before +after):\n%s", d)
	}
	if err := goleak.Find(gor); err != nil {
		h.t.Errorf("goroutines leaked by New+Term: %v", err)
	}
}

func testConcurrentUpdates(h *harness) {
	tc := h.thread(0)
	const n = 16
	fds := make([]int, n)
	peers := make([]int, n)
	for i := range fds {
		fds[i], peers[i] = h.pair()
		h.insert(tc, fds[i], &recorder{drain: true}, 0)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	ext := h.tab.External()
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				fd := fds[(i*7+g)%n]
				switch (i + g) % 4 {
				case 0:
					ext.WantRecv(fd)
				case 1:
					ext.WantSend(fd)
				case 2:
					ext.StopBoth(fd)
				case 3:
					unix.Write(peers[(i+g)%n], []byte{1})
				}
				if i%64 == 0 {
					runtime.Gosched()
				}
			}
		}(g)
	}
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		if err := tc.p.Poll(tc.ctx.UpdateTime().Add(1), false); err != nil {
			close(stop)
			wg.Wait()
			h.t.Fatalf("unexpected Poll error: %v", err)
		}
	}
	close(stop)
	wg.Wait()
	// Converge: everybody wants to receive only.
	for _, fd := range fds {
		h.must(ext.StopBoth(fd))
		h.must(ext.WantRecv(fd))
		h.must(tc.th.CantRecv(fd))
	}
	h.poll(tc, poller.Eternity, true)
	h.poll(tc, poller.Eternity, true)
	for _, fd := range fds {
		if got := h.polled(tc, fd); got != "R" {
			h.t.Errorf("fd %d polled = %s after converging on want recv, want R", fd, got)
		}
		if m := h.tab.Info(fd).Updates; m != 0 {
			h.t.Errorf("fd %d update mask = %#x after draining, want 0", fd, m)
		}
	}
}

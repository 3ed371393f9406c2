package conformance

import (
	"errors"
	"flag"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	"golang.org/x/sys/unix"
)

// KernelObject is implemented by pollers whose kernel state is one file
// descriptor (an epoll instance, a kqueue, an event port). The Fork check
// uses it to verify that Fork really replaces that object.
type KernelObject interface {
	// FD returns the kernel object's descriptor, -1 after Term.
	FD() int
}

var long = flag.Bool("conformance.long", false, "loop the race windows of the multi-thread checks 20 times longer")

// raceRounds is how many times a multi-thread check loops its race window.
func raceRounds() int {
	if *long {
		return 20000
	}
	return 1000
}

// race runs f on another goroutine at the same moment as g on this one,
// and returns once both have returned.
func race(f, g func()) {
	var ready, start atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		ready.Store(true)
		for !start.Load() {
		}
		f()
	}()
	for !ready.Load() {
	}
	start.Store(true)
	g()
	<-done
}

// registered reports whether tc's poller has fd registered in the kernel,
// if it can tell.
func (h *harness) registered(tc *tctx, fd int) (reg, known bool) {
	h.t.Helper()
	in, ok := tc.p.(poller.Introspector)
	if !ok {
		return false, false
	}
	regs, err := in.Registered()
	if err != nil {
		h.t.Fatalf("unexpected Registered error: %v", err)
	}
	return slices.ContainsFunc(regs, func(r poller.Registration) bool { return r.FD == fd }), true
}

// testLateInstance: a poller created after its thread's fds were wanted
// serves them with no help from the caller, whether it is the thread's
// first poller, the replacement of a terminated one, or the poller of a
// thread started after a shared fd was made active.
func testLateInstance(h *harness) {
	tc := h.threadNoPoller(0)
	rec := &recorder{drain: true}
	_, b := h.reader(tc, rec)
	h.write(b, 1)
	h.newPoller(tc)
	h.pollUntil(tc, "an event for an fd wanted before the poller existed", func() bool { return rec.calls.Load() > 0 })

	// Term, then a new instance: the fds wanted all along and one wanted
	// in between are served.
	h.must(tc.p.Close())
	rec2 := &recorder{drain: true}
	_, d := h.reader(tc, rec2)
	h.newPoller(tc)
	h.write(b, 1)
	h.write(d, 1)
	h.pollUntil(tc, "events after Term and New", func() bool { return rec.calls.Load() > 1 && rec2.calls.Load() > 0 })

	// A shared fd made active while thread 3 had no poller yet.
	t2 := h.thread(2)
	e, f := h.pair()
	shared := &recorder{drain: true}
	h.insert(t2, e, shared, t2.th.Bit()|1<<3)
	h.must(h.tab.External().WantRecv(e))
	h.must(h.tab.External().CantRecv(e))
	h.poll(t2, poller.Eternity, true) // takes the entry off the shared list
	t3 := h.thread(3)
	h.write(f, 1)
	h.pollUntil(t3, "an event on the late thread for a shared fd", func() bool { return shared.calls.Load() > 0 })
	if got := h.polled(t3, e); got != "R" {
		h.t.Errorf("late thread polls the shared fd as %s, want R", got)
	}
}

// testRemoveWhilePolling: Remove on another goroutine, at the moment the
// poller applies the fd's registration, never leaves the fd registered:
// afterwards this thread's polled bits are clear, the kernel has no
// registration for it, and the still-readable fd does not keep waking the
// poller.
func testRemoveWhilePolling(h *harness) {
	tc := h.thread(0)
	a, b := h.pair()
	h.write(b, 1) // a registration left behind would fire at once
	ext := h.tab.External()
	bit := tc.th.Bit()
	iocb := func(int, any) {}
	var perr, rerr error
	for i := range raceRounds() {
		h.must(ext.Insert(a, nil, iocb, bit))
		h.must(ext.WantRecv(a))
		race(func() { rerr = ext.Remove(a) }, func() { perr = tc.p.Poll(poller.Eternity, true) })
		if perr != nil || rerr != nil {
			h.t.Fatalf("round %d: Poll = %v, Remove = %v", i, perr, rerr)
		}
		if got := h.polled(tc, a); got != "-" {
			h.t.Fatalf("round %d: removed fd still polled (%s)", i, got)
		}
		if perr = tc.p.Poll(poller.Eternity, true); perr != nil {
			h.t.Fatalf("round %d: Poll after Remove = %v", i, perr)
		}
		if reg, _ := h.registered(tc, a); reg {
			h.t.Fatalf("round %d: removed fd still registered in the kernel", i)
		}
	}
	dead := tc.ctx.Activity.PollDeadFD.Load()
	start := time.Now()
	h.pollFor(tc, 30)
	if el := time.Since(start); el < 30*time.Millisecond {
		h.t.Errorf("Poll with nothing registered returned after %s: the removed fd still wakes it", ms(el))
	}
	if got := tc.ctx.Activity.PollDeadFD.Load() - dead; got != 0 {
		h.t.Errorf("%d events for the removed fd after the rounds", got)
	}
}

// testReinsertWhileDispatching: while the poller dispatches an event
// harvested for one generation of an fd, another goroutine removes the fd,
// puts a different, never readable file under the same number and inserts
// it for a new owner. The old generation's event must never reach the new
// owner.
func testReinsertWhileDispatching(h *harness) {
	tc := h.thread(0)
	// Readable fillers dispatched before the fd under test keep the
	// window between the kernel's report and its dispatch open for tens
	// of microseconds, long enough for the other goroutine's swap.
	burn := func(int, any) {
		for range 3 {
			unix.Getppid()
		}
	}
	for range 32 {
		f, fPeer := h.pair()
		h.write(fPeer, 1)
		h.must(tc.th.Insert(f, nil, burn, tc.th.Bit()))
		h.must(tc.th.WantRecv(f))
	}
	h.poll(tc, poller.Eternity, true)
	r, rPeer := h.pair()
	h.write(rPeer, 1) // r stays readable
	q, _ := h.pair()  // q is never readable
	x, err := unix.Dup(r)
	if err != nil {
		h.t.Fatalf("dup: %v", err)
	}
	h.fds[x] = true
	ext := h.tab.External()
	bit := tc.th.Bit()
	var leaked atomic.Int32
	oldIOCB := func(int, any) {}
	newIOCB := func(int, any) { leaked.Add(1) }
	var perr error
	for i := range raceRounds() {
		if err := unix.Dup2(r, x); err != nil {
			h.t.Fatalf("dup2: %v", err)
		}
		h.must(ext.Insert(x, nil, oldIOCB, bit))
		h.must(ext.WantRecv(x))
		if perr = tc.p.Poll(poller.Eternity, true); perr != nil {
			h.t.Fatalf("round %d: Poll = %v", i, perr)
		}
		race(func() {
			h.must(ext.Remove(x))
			if err := unix.Dup2(q, x); err != nil {
				h.t.Errorf("dup2: %v", err)
			}
			h.must(ext.Insert(x, nil, newIOCB, bit))
			h.must(ext.WantRecv(x))
		}, func() { perr = tc.p.Poll(poller.Eternity, true) })
		if perr == nil {
			perr = tc.p.Poll(poller.Eternity, true)
		}
		if perr != nil {
			h.t.Fatalf("round %d: Poll = %v", i, perr)
		}
		if n := leaked.Load(); n != 0 {
			h.t.Fatalf("round %d: the new owner of fd %d received %d events of the previous generation", i, x, n)
		}
		h.must(ext.Remove(x))
	}
}

// testPerFDErrorIsEvent: a registration the kernel refuses (a regular
// file) fails that fd only: Poll succeeds, the owner gets an error event,
// poll_err_fd counts it, nothing is watched for it, other fds keep working
// and the failure is not retried at every cycle.
func testPerFDErrorIsEvent(h *harness) {
	tc := h.thread(0)
	f, err := os.Open(os.Args[0])
	if err != nil {
		h.t.Fatalf("open: %v", err)
	}
	fd, err := unix.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		h.t.Fatalf("dup: %v", err)
	}
	h.fds[fd] = true
	var logged error
	tc.ctx.OnFDError = func(_ int, err error) { logged = err }
	rec := &recorder{}
	h.insert(tc, fd, rec, 0)
	h.must(tc.th.WantRecv(fd))
	good := &recorder{drain: true}
	_, b := h.reader(tc, good)
	h.poll(tc, poller.Eternity, true)
	if rec.calls.Load() != 1 || fdtable.State(rec.ev.Load())&fdtable.ErrRW == 0 {
		h.t.Fatalf("owner of a regular file got %d calls (event %v), want one error event", rec.calls.Load(), fdtable.State(rec.ev.Load()))
	}
	if !errors.Is(logged, unix.EPERM) {
		h.t.Errorf("OnFDError got %v, want an error wrapping EPERM", logged)
	}
	if got := tc.ctx.Activity.PollErrFD.Load(); got != 1 {
		h.t.Errorf("poll_err_fd = %d, want 1", got)
	}
	if got := h.polled(tc, fd); got != "-" {
		h.t.Errorf("refused fd polled as %s, want -", got)
	}
	h.write(b, 1)
	h.pollUntil(tc, "an event on another fd", func() bool { return good.calls.Load() > 0 })
	start := time.Now()
	h.pollFor(tc, 30)
	if el := time.Since(start); el < 30*time.Millisecond || rec.calls.Load() != 1 {
		h.t.Errorf("cycle after the failure took %s with %d error events: the failure is retried", ms(el), rec.calls.Load())
	}
}

// testForkRecreates: Fork of a backend that owns a kernel object leaves
// the instance on a new one, with every wanted fd registered, and the old
// one closed (it is shared with the parent).
func testForkRecreates(h *harness) {
	tc := h.thread(0)
	if h.flags(tc)&poller.FlagFork == 0 {
		h.t.Skipf("backend %s declares no kernel object to re-create (no poller.FlagFork)", h.b.Name)
	}
	ko, ok := tc.p.(KernelObject)
	if !ok {
		h.t.Skipf("backend %s does not expose its kernel object (conformance.KernelObject)", h.b.Name)
	}
	rec := &recorder{drain: true}
	a, b := h.reader(tc, rec)
	h.poll(tc, poller.Eternity, true)
	old := ko.FD()
	var st unix.Stat_t
	if err := unix.Fstat(old, &st); err != nil {
		h.t.Fatalf("fstat of the kernel object: %v", err)
	}
	if err := poller.Fork(tc.ctx, tc.p); err != nil {
		h.t.Fatalf("unexpected Fork error: %v", err)
	}
	// The new object is created before the old one is closed, so it
	// has another number; the old number must be closed (or, if
	// something reopened it meanwhile, hold another file).
	if nfd := ko.FD(); nfd == old || nfd < 0 {
		h.t.Errorf("after Fork the kernel object is fd %d, before it was fd %d: not re-created", nfd, old)
	}
	var ost unix.Stat_t
	if err := unix.Fstat(old, &ost); err == nil && ost.Dev == st.Dev && ost.Ino == st.Ino {
		h.t.Errorf("the pre-fork kernel object (fd %d) is still open", old)
	}
	if got := h.polled(tc, a); got != "R" {
		h.t.Errorf("wanted fd polled as %s right after Fork, want R", got)
	}
	h.checkKernel()
	h.write(b, 1)
	h.pollUntil(tc, "an event after Fork", func() bool { return rec.calls.Load() > 0 })
}

// testReadyRemarked: an owner that clears READY_R without reading sees it
// set again when the next wait reports the fd again.
func testReadyRemarked(h *harness) {
	tc := h.thread(0)
	var seen []fdtable.State
	rec := &recorder{}
	rec.fn = func(fd int) {
		seen = append(seen, fdtable.State(rec.st.Load()))
		tc.th.CantRecv(fd)
	}
	_, b := h.reader(tc, rec)
	h.write(b, 1)
	h.pollUntil(tc, "a first event", func() bool { return rec.calls.Load() > 0 })
	h.pollUntil(tc, "a second event", func() bool { return rec.calls.Load() > 1 })
	for i, st := range seen[:2] {
		if st&fdtable.ReadyR == 0 {
			h.t.Errorf("call %d ran with state %v, want READY_R set", i+1, st)
		}
	}
}

// testCloseCostsNoKernelUpdate: deleting an fd that only this process and
// one thread hold makes no kernel registration change: closing it is
// enough for the kernel.
func testCloseCostsNoKernelUpdate(h *harness) {
	tc := h.thread(0)
	uc, ok := h.counter(tc)
	if !ok {
		h.t.Skipf("backend %s does not count kernel updates (conformance.UpdateCounter)", h.b.Name)
	}
	a, _ := h.reader(tc, &recorder{})
	h.poll(tc, poller.Eternity, true)
	before := uc.KernelUpdates()
	h.must(tc.th.Delete(a))
	h.forget(a)
	if got := uc.KernelUpdates() - before; got != 0 {
		h.t.Errorf("Delete of an fd registered by one thread made %d kernel updates, want 0", got)
	}
}

// testTermOfReplacedInstance: terminating an instance after a newer one
// took over its thread leaves the newer one working: its fds stay
// registered and its close hook is still called.
func testTermOfReplacedInstance(h *harness) {
	tc := h.thread(0)
	rec := &recorder{drain: true}
	a, b := h.reader(tc, rec)
	h.poll(tc, poller.Eternity, true)
	old := tc.p
	h.newPoller(tc)
	h.must(old.Close())
	h.poll(tc, poller.Eternity, true)
	if got := h.polled(tc, a); got != "R" {
		h.t.Fatalf("fd polled as %s after the old instance's Term, want R", got)
	}
	h.write(b, 1)
	h.pollUntil(tc, "an event on the new instance", func() bool { return rec.calls.Load() > 0 })
	h.must(tc.th.Remove(a))
	h.poll(tc, poller.Eternity, true)
	if reg, known := h.registered(tc, a); known && reg {
		h.t.Errorf("removed fd still registered: the new instance's close hook was not called")
	}
}

// testClosedBehindTable: the user closes a registered fd with close(2)
// without telling the table (a misuse), and the kernel gives the number
// to a new socket. Once the table is told (Remove) and the number is
// inserted for its new owner, the new owner gets the new socket's events
// and none of the old owner's; the cycles in between neither fail nor
// spin.
func testClosedBehindTable(h *harness) {
	tc := h.thread(0)
	old := &recorder{drain: true}
	a, a2 := h.reader(tc, old)
	h.poll(tc, poller.Eternity, true)
	h.write(a2, 1) // an event the old owner never reads
	if err := unix.Close(a); err != nil {
		h.t.Fatalf("close: %v", err)
	}
	h.forget(a)
	c, c2 := h.pair()
	if c != a {
		if err := dupTo(c, a); err != nil {
			h.t.Fatalf("dup2(%d, %d): %v", c, a, err)
		}
		unix.Close(c)
		h.forget(c)
		h.fds[a] = true
	}
	// Whatever the backend reports meanwhile goes to the table's idea
	// of the fd: the old owner. Polling must neither fail nor spin. (The
	// kernel may have dropped the registration with the file while the
	// polled bits still name it, so the kernel comparison waits.)
	start := time.Now()
	if err := tc.p.Poll(tc.ctx.UpdateTime().Add(20), false); err != nil {
		h.t.Fatalf("unexpected Poll error after the hidden close: %v", err)
	}
	if el := time.Since(start); el > time.Second {
		h.t.Errorf("cycle after the hidden close took %s", ms(el))
	}
	calledBefore := old.calls.Load()
	h.must(tc.th.Remove(a))
	fresh := &recorder{drain: true}
	h.insert(tc, a, fresh, 0)
	h.must(tc.th.WantRecv(a))
	h.must(tc.th.CantRecv(a))
	h.write(c2, 1)
	h.pollUntil(tc, "the new owner's event", func() bool { return fresh.calls.Load() > 0 })
	for range 3 {
		h.pollFor(tc, 10)
	}
	if n := old.calls.Load(); n != calledBefore {
		h.t.Errorf("the old owner got %d calls after the table was told, want 0", n-calledBefore)
	}
}

package conformance

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// UpdateCounter is implemented by pollers that count the kernel
// registration changes they make (epoll_ctl calls, kevent changes, ...).
// Checks that "nothing changed costs nothing" use it.
type UpdateCounter interface {
	KernelUpdates() uint64
}

// WaitCounter is implemented by pollers that count their kernel waits
// (epoll_wait, kevent, poll, select calls), not counting waits a signal
// interrupted (those are retried). Checks of the busy-polling and
// one-wait-per-cycle rules use it.
type WaitCounter interface {
	KernelWaits() uint64
}

// tb is the part of testing.T the checks use, so that the suite can test
// itself with a recorder (see the package tests).
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
	Failed() bool
}

// watchdogTimeout bounds every subtest.
const watchdogTimeout = 20 * time.Second

// tableSizes are tried in order: the first one the backend's Test accepts
// is used.
var tableSizes = []int{16384, 1024}

var warm sync.Once

// warmup makes the Go runtime open its own long-lived fds (the netpoller)
// before any fd count is taken.
func warmup() {
	warm.Do(func() {
		if l, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
			l.Close()
		}
		if f, err := os.Open(os.DevNull); err == nil {
			f.Close()
		}
	})
}

type harness struct {
	t       tb
	b       poller.Backend
	tab     *fdtable.Table
	threads []*tctx
	fds     map[int]bool // fds to close at cleanup
	expired atomic.Bool
}

// tctx is one simulated thread: its table handle, context and poller.
type tctx struct {
	th  *fdtable.Thread
	ctx *poller.Context
	p   poller.Poller
	tid int
}

func newHarness(t tb, b poller.Backend) *harness {
	t.Helper()
	warmup()
	h := &harness{t: t, b: b, fds: map[int]bool{}}
	var testErr error
	for _, n := range tableSizes {
		tab := fdtable.New(n)
		if b.Test == nil {
			h.tab = tab
			break
		}
		if testErr = b.Test(tab); testErr == nil {
			h.tab = tab
			break
		}
	}
	if h.tab == nil {
		t.Skipf("backend %s: Test fails for every table size: %v", b.Name, testErr)
	}
	timer := time.AfterFunc(watchdogTimeout, func() { h.expired.Store(true) })
	t.Cleanup(func() {
		timer.Stop()
		for i := len(h.threads) - 1; i >= 0; i-- {
			if tc := h.threads[i]; tc != nil && tc.p != nil {
				tc.p.Close()
			}
		}
		// The table is discarded with the harness: close the fds
		// directly rather than through it, which could wait on a
		// callback that failed the test mid-way.
		for fd := range h.fds {
			unix.Close(fd)
		}
	})
	return h
}

// thread returns simulated thread i, creating its poller on first use.
// setup, if given, adjusts the context before the poller is built.
func (h *harness) thread(i int, setup ...func(*poller.Context)) *tctx {
	h.t.Helper()
	for len(h.threads) <= i {
		h.threads = append(h.threads, nil)
	}
	if tc := h.threads[i]; tc != nil {
		return tc
	}
	th, err := h.tab.NewThread(i)
	if err != nil {
		h.t.Fatalf("NewThread(%d): %v", i, err)
	}
	ctx := poller.NewContext(th)
	for _, f := range setup {
		f(ctx)
	}
	p, err := h.b.New(ctx)
	if err != nil {
		h.t.Fatalf("unexpected New error: %v", err)
	}
	if p == nil {
		h.t.Fatalf("New returned a nil Poller and no error")
	}
	tc := &tctx{th: th, ctx: ctx, p: p, tid: i}
	h.threads[i] = tc
	return tc
}

// threadNoPoller returns simulated thread i with its table handle and
// context but no poller yet (see newPoller).
func (h *harness) threadNoPoller(i int) *tctx {
	h.t.Helper()
	for len(h.threads) <= i {
		h.threads = append(h.threads, nil)
	}
	if h.threads[i] != nil {
		h.t.Fatalf("thread %d exists already", i)
	}
	th, err := h.tab.NewThread(i)
	if err != nil {
		h.t.Fatalf("NewThread(%d): %v", i, err)
	}
	tc := &tctx{th: th, ctx: poller.NewContext(th), tid: i}
	h.threads[i] = tc
	return tc
}

// newPoller gives tc a new poller instance from the backend's New. A
// previous instance is left as it is: terminating it is the caller's
// business.
func (h *harness) newPoller(tc *tctx) {
	h.t.Helper()
	p, err := h.b.New(tc.ctx)
	if err != nil {
		h.t.Fatalf("unexpected New error: %v", err)
	}
	if p == nil {
		h.t.Fatalf("New returned a nil Poller and no error")
	}
	tc.p = p
}

// pair returns a non-blocking AF_UNIX stream socket pair, closed at
// cleanup unless deleted through the table.
func (h *harness) pair() (a, b int) {
	h.t.Helper()
	fds, err := socketpair()
	if err != nil {
		h.t.Fatalf("socketpair: %v", err)
	}
	h.fds[fds[0]] = true
	h.fds[fds[1]] = true
	return fds[0], fds[1]
}

// forget tells the harness fd was closed by someone else.
func (h *harness) forget(fd int) { delete(h.fds, fd) }

// recorder is an fd owner that counts iocb calls and remembers what the
// table said during the last one.
type recorder struct {
	calls atomic.Int32
	ev    atomic.Uint32 // fdtable.State: Info.Ev during the last call
	st    atomic.Uint32 // State during the last call
	drain bool          // read until EAGAIN and CantRecv
	eof   atomic.Bool   // a read returned 0
	fn    func(fd int)  // extra action, after recording
}

func (h *harness) insert(tc *tctx, fd int, rec *recorder, mask uint64) {
	h.t.Helper()
	if mask == 0 {
		mask = tc.th.Bit()
	}
	th := tc.th
	err := th.Insert(fd, rec, func(fd int, owner any) {
		r := owner.(*recorder)
		r.calls.Add(1)
		r.ev.Store(uint32(h.tab.Info(fd).Ev))
		r.st.Store(uint32(h.tab.State(fd)))
		if r.drain {
			var buf [4096]byte
			for {
				n, err := unix.Read(fd, buf[:])
				if n > 0 {
					continue
				}
				if n == 0 && err == nil {
					r.eof.Store(true)
				}
				if err == unix.EAGAIN {
					th.CantRecv(fd)
				}
				break
			}
		}
		if r.fn != nil {
			r.fn(fd)
		}
	}, mask)
	if err != nil {
		h.t.Fatalf("Insert(%d): %v", fd, err)
	}
}

// reader returns a socket pair whose first end is in the table with rec as
// owner, wanted for receiving and known not readable, so that its next
// read event is the one the check provokes. The registration is applied
// by the next poll cycle.
func (h *harness) reader(tc *tctx, rec *recorder) (a, b int) {
	h.t.Helper()
	a, b = h.pair()
	h.insert(tc, a, rec, 0)
	h.must(tc.th.WantRecv(a))
	h.must(tc.th.CantRecv(a))
	return a, b
}

// poll runs one poll cycle on tc and checks the kernel's view afterwards.
func (h *harness) poll(tc *tctx, exp poller.Tick, wake bool) {
	h.t.Helper()
	if h.expired.Load() {
		h.t.Fatalf("test timed out")
	}
	if err := tc.p.Poll(exp, wake); err != nil {
		h.t.Fatalf("unexpected Poll error: %v", err)
	}
	h.checkKernel()
}

// pollFor runs one cycle that waits at most ms milliseconds.
func (h *harness) pollFor(tc *tctx, ms int) {
	h.t.Helper()
	h.poll(tc, tc.ctx.UpdateTime().Add(ms), false)
}

// pollUntil polls tc until cond holds, failing after a few seconds.
func (h *harness) pollUntil(tc *tctx, what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("test timed out waiting for %s", what)
		}
		h.pollFor(tc, 20)
	}
}

// checkKernel compares, for every thread whose poller can introspect, the
// kernel's registrations with the polled masks in the table.
func (h *harness) checkKernel() {
	h.t.Helper()
	for _, tc := range h.threads {
		if tc == nil {
			continue
		}
		in, ok := tc.p.(poller.Introspector)
		if !ok {
			continue
		}
		regs, err := in.Registered()
		if errors.Is(err, poller.ErrClosed) {
			continue
		}
		if err != nil {
			h.t.Fatalf("unexpected Registered error: %v", err)
		}
		got := map[int]string{}
		for _, r := range regs {
			got[r.FD] = dirs(r.Recv, r.Send)
		}
		want := map[int]string{}
		for _, fd := range h.polledBy(tc) {
			in := h.tab.Info(fd)
			want[fd] = dirs(in.PolledRecv&tc.th.Bit() != 0, in.PolledSend&tc.th.Bit() != 0)
		}
		if d := cmp.Diff(want, got); d != "" {
			h.t.Fatalf("thread %d: kernel registrations differ from polled masks (-masks +kernel):\n%s", tc.tid, d)
		}
	}
}

// polledBy returns the fds whose polled bits name tc's thread.
func (h *harness) polledBy(tc *tctx) []int {
	return polledBy(h.tab, tc.th.Bit())
}

func polledBy(tab *fdtable.Table, bit uint64) []int {
	var fds []int
	for fd := range tab.MaxFDs() {
		if in := tab.Info(fd); (in.PolledRecv|in.PolledSend)&bit != 0 {
			fds = append(fds, fd)
		}
	}
	return fds
}

func dirs(r, s bool) string {
	switch {
	case r && s:
		return "RW"
	case r:
		return "R"
	case s:
		return "W"
	}
	return "-"
}

// polled returns what tc's poller watches for fd according to the table.
func (h *harness) polled(tc *tctx, fd int) string {
	in := h.tab.Info(fd)
	return dirs(in.PolledRecv&tc.th.Bit() != 0, in.PolledSend&tc.th.Bit() != 0)
}

func (h *harness) write(fd int, n int) {
	h.t.Helper()
	buf := make([]byte, n)
	if _, err := unix.Write(fd, buf); err != nil {
		h.t.Fatalf("write(%d): %v", fd, err)
	}
}

func (h *harness) must(err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatalf("unexpected error: %v", err)
	}
}

// countFDs returns the open fds of the process, probing numbers with
// fcntl so that it works on every unix.
func countFDs() []int {
	var open []int
	for fd := 0; fd < 32768; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			open = append(open, fd)
		}
	}
	sort.Ints(open)
	return open
}

func (h *harness) flags(tc *tctx) poller.Flags { return tc.p.Flags() }

func (h *harness) counter(tc *tctx) (UpdateCounter, bool) {
	c, ok := tc.p.(UpdateCounter)
	return c, ok
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/1e6) }

// runT adapts *testing.T.
var _ tb = (*testing.T)(nil)

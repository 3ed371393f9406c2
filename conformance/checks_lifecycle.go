package conformance

import (
	"errors"
	"runtime"
	"sync"
	"time"

	"github.com/evpoll/evpoll/poller"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

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

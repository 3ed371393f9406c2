package conformance

import (
	"time"

	"github.com/evpoll/evpoll/poller"
	"golang.org/x/sys/unix"
)

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
	// Ticks are whole milliseconds: a timer set d ms ahead expires
	// after d-1 ms at least, depending on where in its millisecond the
	// clock was read.
	if el < (d-1)*time.Millisecond {
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

package conformance

import (
	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
)

// testRegisterOnWant: each want registers exactly the wanted directions
// at the next cycle, not before. READY_R is set by Insert, so wanting only
// to send polls only the write direction (no sticky read).
func testRegisterOnWant(h *harness) {
	tc := h.thread(0)
	for _, c := range []struct {
		name  string
		wants []func(*fdtable.Thread, int) error
		want  string
	}{
		{"recv", []func(*fdtable.Thread, int) error{(*fdtable.Thread).WantRecv}, "R"},
		{"send", []func(*fdtable.Thread, int) error{(*fdtable.Thread).WantSend}, "W"},
		{"both", []func(*fdtable.Thread, int) error{(*fdtable.Thread).WantRecv, (*fdtable.Thread).WantSend}, "RW"},
	} {
		a, _ := h.pair()
		h.insert(tc, a, &recorder{}, 0)
		for _, w := range c.wants {
			h.must(w(tc.th, a))
		}
		if got := h.polled(tc, a); got != "-" {
			h.t.Fatalf("want %s: polled before the poll cycle = %s, want -", c.name, got)
		}
		h.poll(tc, poller.Eternity, true)
		if got := h.polled(tc, a); got != c.want {
			h.t.Errorf("polled after want %s = %s, want %s", c.name, got, c.want)
		}
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

package fdtable_test

import (
	"strconv"
	"testing"

	"github.com/evpoll/evpoll/fdtable"
)

// hot-path fixture: fds 10..10+n-1 owned by thread 0 alone, and as many
// shared by threads 0 and 1.
type hot struct {
	tab    *fdtable.Table
	th     []*fdtable.Thread
	owned  []int
	shared []int
}

func newHot(tb testing.TB, n int) *hot {
	tab, ths := newTable(tb, 2)
	h := &hot{tab: tab, th: ths}
	for i := range n {
		h.owned = append(h.owned, 10+i)
		h.shared = append(h.shared, 10+n+i)
	}
	nop := func(int, any) {}
	for _, fd := range h.owned {
		if err := ths[0].Insert(fd, nil, nop, 0x1); err != nil {
			tb.Fatal(err)
		}
	}
	for _, fd := range h.shared {
		if err := ths[0].Insert(fd, nil, nop, 0x3); err != nil {
			tb.Fatal(err)
		}
	}
	return h
}

// TestHotPathAllocs: the state operations, UpdateEvents and DrainUpdates
// allocate nothing in steady state.
func TestHotPathAllocs(t *testing.T) {
	h := newHot(t, 64)
	th := h.th[0]
	fd := h.owned[0]
	sfd := h.shared[0]
	u := nopUpdater{}
	cases := []struct {
		name string
		fn   func()
	}{
		{"WantRecv", func() { th.WantRecv(fd); th.StopRecv(fd); th.DrainUpdates(u, true) }},
		{"WantSend", func() { th.WantSend(fd); th.StopSend(fd); th.DrainUpdates(u, true) }},
		{"WantRecvShared", func() {
			th.WantRecv(sfd)
			th.StopRecv(sfd)
			th.DrainUpdates(u, true)
			h.th[1].DrainUpdates(u, true)
		}},
		{"StopRecv", func() { th.StopRecv(fd) }},
		{"StopSend", func() { th.StopSend(fd) }},
		{"StopBoth", func() { th.StopBoth(fd) }},
		{"CantRecv", func() { th.CantRecv(fd); th.MayRecv(fd) }},
		{"CantSend", func() { th.CantSend(fd); th.MaySend(fd) }},
		{"MayRecv", func() { th.MayRecv(fd) }},
		{"UpdateEventsActive", func() {
			th.WantRecv(fd)
			th.UpdateEvents(fd, fdtable.ReadyR)
		}},
		{"UpdateEventsLazyStop", func() {
			th.StopBoth(fd)
			th.UpdateEvents(fd, fdtable.ReadyR|fdtable.ReadyW)
			th.DrainUpdates(u, true)
		}},
		{"DrainLocal", func() {
			for _, fd := range h.owned {
				th.WantRecv(fd)
			}
			th.DrainUpdates(u, true)
			for _, fd := range h.owned {
				th.StopRecv(fd)
			}
		}},
		{"DrainShared", func() {
			for _, fd := range h.shared {
				h.tab.External().WantSend(fd)
			}
			th.DrainUpdates(u, true)
			h.th[1].DrainUpdates(u, false)
			for _, fd := range h.shared {
				th.StopSend(fd)
			}
		}},
		{"Queries", func() {
			h.tab.State(fd)
			h.tab.Active(fd)
			h.tab.OpenGen(fd)
			h.tab.Polled(fd)
			h.tab.SetPolled(fd, 0, true, false)
		}},
	}
	for _, c := range cases {
		c.fn() // warm-up: scratch slices reach their steady size
		if n := testing.AllocsPerRun(100, c.fn); n != 0 {
			t.Errorf("%s: %v allocations per run, want 0", c.name, n)
		}
	}
}

func BenchmarkState(b *testing.B) {
	h := newHot(b, 1)
	th := h.th[0]
	fd := h.owned[0]
	ops := []struct {
		name string
		fn   func()
	}{
		{"want_recv", func() { th.WantRecv(fd); th.StopRecv(fd) }},
		{"want_send", func() { th.WantSend(fd); th.StopSend(fd) }},
		{"stop_recv", func() { th.StopRecv(fd) }},
		{"stop_send", func() { th.StopSend(fd) }},
		{"stop_both", func() { th.StopBoth(fd) }},
		{"cant_recv", func() { th.CantRecv(fd); th.MayRecv(fd) }},
		{"may_recv", func() { th.MayRecv(fd) }},
		{"recv_active", func() { h.tab.RecvActive(fd) }},
	}
	for _, op := range ops {
		b.Run("op="+op.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				op.fn()
			}
			th.DrainUpdates(nopUpdater{}, true)
		})
	}
}

func BenchmarkUpdateEvents(b *testing.B) {
	for _, tc := range []struct {
		name string
		st   fdtable.State
		evts fdtable.State
	}{
		{"active", fdtable.ActiveR, fdtable.ReadyR},
		{"inactive", 0, fdtable.ReadyR},
		{"hup", fdtable.ActiveRW, fdtable.ShutR | fdtable.ShutW},
	} {
		b.Run("case="+tc.name, func(b *testing.B) {
			h := newHot(b, 1)
			th := h.th[0]
			fd := h.owned[0]
			th.StopBoth(fd)
			if tc.st&fdtable.ActiveR != 0 {
				th.WantRecv(fd)
			}
			if tc.st&fdtable.ActiveW != 0 {
				th.WantSend(fd)
			}
			th.DrainUpdates(nopUpdater{}, true)
			b.ReportAllocs()
			for b.Loop() {
				th.UpdateEvents(fd, tc.evts)
			}
		})
	}
}

func BenchmarkDrainUpdates(b *testing.B) {
	for _, n := range []int{1, 64, 1024} {
		for _, list := range []string{"local", "shared"} {
			b.Run("list="+list+"/fds="+strconv.Itoa(n), func(b *testing.B) {
				h := newHot(b, n)
				th := h.th[0]
				fds := h.owned
				if list == "shared" {
					fds = h.shared
				}
				u := nopUpdater{}
				round := func() {
					for _, fd := range fds {
						th.WantRecv(fd)
					}
					th.DrainUpdates(u, true)
					if list == "shared" {
						h.th[1].DrainUpdates(u, true)
					}
					for _, fd := range fds {
						th.StopRecv(fd)
					}
				}
				round() // grow the scratch lists once
				b.ReportAllocs()
				for b.Loop() {
					round()
				}
			})
		}
	}
}

// BenchmarkConcurrentWant measures external wants on shared fds from
// several goroutines while nobody drains (the shared-list fast path).
func BenchmarkConcurrentWant(b *testing.B) {
	h := newHot(b, 64)
	ext := h.tab.External()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			fd := h.shared[i%len(h.shared)]
			ext.WantRecv(fd)
			ext.StopRecv(fd)
			i++
		}
	})
}

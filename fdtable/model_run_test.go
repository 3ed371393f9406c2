package fdtable_test

import (
	"slices"
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
	"pgregory.net/rapid"
)

func TestModel(t *testing.T) {
	for _, fd := range modelPool {
		if !fdIsClosed(fd) {
			t.Skipf("fd %d is in use by the process", fd)
		}
	}
	devnull, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(devnull)
	// The pool's numbers must be usable (RLIMIT_NOFILE; Go raises the soft
	// limit to the hard one at start-up).
	top := slices.Max(modelPool)
	if err := unix.Dup2(devnull, top); err != nil {
		t.Skipf("cannot use fd %d: %v", top, err)
	}
	unix.Close(top)

	rapid.Check(t, func(rt *rapid.T) {
		nth := rapid.IntRange(1, 4).Draw(rt, "threads")
		m := newModel(nth)
		s := &sut{tab: fdtable.New(tableSize)}
		for i := range nth {
			th, err := s.tab.NewThread(i)
			if err != nil {
				rt.Fatal(err)
			}
			s.ths = append(s.ths, th)
		}
		s.ths = append(s.ths, s.tab.External())
		s.hooks = installHooks(rt, s.tab, 4)
		rt.Cleanup(func() {
			for _, fd := range modelPool {
				if m.fds[fd].real {
					unix.Close(fd)
				}
			}
		})

		pickThread := func(rt *rapid.T) (int, *fdtable.Thread) {
			i := rapid.IntRange(0, nth).Draw(rt, "thread")
			if i == nth {
				return -1, s.ths[i]
			}
			return i, s.ths[i]
		}
		pickFD := func(rt *rapid.T) int { return rapid.SampledFrom(modelPool).Draw(rt, "fd") }

		// stateOp applies one of the §4.6 operations drawn from names.
		stateOp := func(names *rapid.Generator[string]) func(*rapid.T) {
			return func(rt *rapid.T) {
				name := names.Draw(rt, "op")
				tid, th := pickThread(rt)
				fd := pickFD(rt)
				ops := map[string]func(int) error{
					"WantRecv": th.WantRecv, "WantSend": th.WantSend,
					"StopRecv": th.StopRecv, "StopSend": th.StopSend, "StopBoth": th.StopBoth,
					"CantRecv": th.CantRecv, "CantSend": th.CantSend,
					"MayRecv": th.MayRecv, "MaySend": th.MaySend,
				}
				got := errClass(ops[name](fd))
				if want := m.stateOp(tid, name, fd); got != want {
					rt.Fatalf("%s(%d) by thread %d: error %s, want %s", name, fd, tid, got, want)
				}
			}
		}
		// rapid draws actions biased towards the first keys in sorted
		// order: the prefixes put the most productive ones first.
		actions := map[string]func(*rapid.T){
			"d_Insert": func(rt *rapid.T) {
				_, th := pickThread(rt)
				fd := pickFD(rt)
				mask := masksGen.Draw(rt, "mask")
				act := actsGen.Draw(rt, "iocb")
				gen := m.fds[fd].gen + 1
				if m.fds[fd].open {
					gen--
				}
				got := errClass(th.Insert(fd, ownerOf(fd, gen), s.iocbFor(act), mask))
				if want := m.insert(fd, mask, act); got != want {
					rt.Fatalf("Insert(%d, mask %#x): error %s, want %s", fd, mask, got, want)
				}
			},
			// Mostly Remove, which keeps fd numbers stable; Delete closes
			// a real descriptor put at the fd's number.
			"g_Release": func(rt *rapid.T) {
				_, th := pickThread(rt)
				fd := pickFD(rt)
				if rapid.SampledFrom([]string{"remove", "remove", "delete"}).Draw(rt, "release") == "remove" {
					got := errClass(th.Remove(fd))
					if want := m.release(fd, true); got != want {
						rt.Fatalf("Remove(%d): error %s, want %s", fd, got, want)
					}
					return
				}
				f := m.fds[fd]
				if f.open && !f.real {
					if err := unix.Dup2(devnull, fd); err != nil {
						rt.Fatalf("dup2: %v", err)
					}
					f.real = true
				}
				got := errClass(th.Delete(fd))
				if want := m.release(fd, false); got != want {
					rt.Fatalf("Delete(%d): error %s, want %s", fd, got, want)
				}
				if want := !f.real; fdIsClosed(fd) != want {
					rt.Fatalf("Delete(%d): fd closed = %v, want %v", fd, !want, want)
				}
			},
			"a_WantRecv": stateOp(rapid.Just("WantRecv")),
			"b_WantSend": stateOp(rapid.Just("WantSend")),
			"f_Stop":     stateOp(rapid.SampledFrom([]string{"StopRecv", "StopSend", "StopBoth"})),
			"h_Readiness": stateOp(rapid.SampledFrom([]string{
				"CantRecv", "CantSend", "MayRecv", "MaySend",
			})),
			"c_UpdateEvents": func(rt *rapid.T) {
				tid, th := pickThread(rt)
				fd := pickFD(rt)
				evts := eventsGen.Draw(rt, "events")
				s.cur = th
				got := th.UpdateEvents(fd, evts)
				if want := m.updateEvents(tid, fd, evts); got != want {
					rt.Fatalf("UpdateEvents(%d, %v) by thread %d = %v, want %v", fd, evts, tid, got, want)
				}
			},
			"e_Drain": func(rt *rapid.T) {
				tid, th := pickThread(rt)
				perThread := rapid.Bool().Draw(rt, "perThread")
				u := &recUpdater{}
				dropped := th.DrainUpdates(u, perThread)
				wantUpd, wantDropped := m.drain(tid, perThread)
				if diff := cmp.Diff(wantUpd, u.fds); diff != "" || dropped != wantDropped {
					rt.Fatalf("DrainUpdates by thread %d (perThread=%v): dropped %d, want %d; UpdateFD calls (-want +got):\n%s",
						tid, perThread, dropped, wantDropped, diff)
				}
			},
			"i_SetPolled": func(rt *rapid.T) {
				fd := pickFD(rt)
				tid := rapid.IntRange(0, 3).Draw(rt, "tid")
				r, w := rapid.Bool().Draw(rt, "recv"), rapid.Bool().Draw(rt, "send")
				s.tab.SetPolled(fd, tid, r, w)
				f := m.fds[fd]
				if m.chunks[fd/fdtable.ChunkEntries] {
					f.pollR = f.pollR&^(1<<tid) | b2m(r)<<tid
					f.pollS = f.pollS&^(1<<tid) | b2m(w)<<tid
				}
			},
			"j_Takeover": func(rt *rapid.T) {
				tid, th := pickThread(rt)
				fd := pickFD(rt)
				gen := s.tab.Gen(fd) - uint32(rapid.IntRange(0, 1).Draw(rt, "stale"))
				got := errClass(th.Takeover(fd, gen))
				if want := m.takeover(tid, fd, gen); got != want {
					rt.Fatalf("Takeover(%d, gen %d) by thread %d: error %s, want %s", fd, gen, tid, got, want)
				}
			},
			"l_SetLinger": func(rt *rapid.T) {
				fd := pickFD(rt)
				got := errClass(s.tab.SetLingerRisk(fd))
				want := "ErrNotOpen"
				if m.fds[fd].open {
					want = "nil"
					m.fds[fd].linger = true
				}
				if got != want {
					rt.Fatalf("SetLingerRisk(%d): error %s, want %s", fd, got, want)
				}
			},
			"": func(rt *rapid.T) {
				if diff := cmp.Diff(m.view(), s.view()); diff != "" {
					rt.Fatalf("table differs from model (-model +table):\n%s", diff)
				}
			},
		}
		// Start with some fds open so that short runs reach deep states.
		for _, fd := range modelPool {
			if !rapid.Bool().Draw(rt, "preinsert") {
				continue
			}
			mask := masksGen.Filter(func(m uint64) bool { return m != 0 }).Draw(rt, "mask")
			act := actsGen.Draw(rt, "iocb")
			if err := s.ths[0].Insert(fd, ownerOf(fd, 1), s.iocbFor(act), mask); err != nil {
				rt.Fatalf("Insert(%d): %v", fd, err)
			}
			m.insert(fd, mask, act)
			if rapid.Bool().Draw(rt, "active") {
				th := s.ths[0]
				th.WantRecv(fd)
				m.stateOp(0, "WantRecv", fd)
			}
		}
		actions[""](rt)
		// Repeat runs about -rapid.steps actions (30 by default); three
		// rounds give sequences long enough for multi-step interactions.
		for range 3 {
			rt.Repeat(actions)
		}
	})
}

// rapid favours the first elements of SampledFrom: the usual cases come
// first. Masks may name threads that do not exist (up to 4 bits for 1-4
// threads), and 0 is rejected by Insert.
var (
	masksGen = rapid.SampledFrom([]uint64{0x1, 0x3, 0x2, 0xf, 0x5, 0x4, 0x6, 0x8, 0xa, 0xc, 0x7, 0x9, 0xb, 0xd, 0xe, 0x0})
	actsGen  = rapid.SampledFrom([]int{actNone, actWantRecv, actStopBoth, actWantSend, actRemove, actNil})
)

// eventsGen draws the event sets backends report (reference §6.7) half of
// the time, any combination of the five event bits otherwise.
var eventsGen = rapid.OneOf(
	rapid.SampledFrom([]fdtable.State{
		fdtable.ReadyR, fdtable.ReadyW, fdtable.ReadyR | fdtable.ReadyW,
		fdtable.ShutR, fdtable.ReadyR | fdtable.ShutR, fdtable.ShutR | fdtable.ShutW,
		fdtable.ErrRW, fdtable.ErrRW | fdtable.ShutR | fdtable.ShutW, fdtable.ReadyW | fdtable.ErrRW,
	}),
	rapid.Custom(func(t *rapid.T) fdtable.State {
		raw := rapid.IntRange(1, 31).Draw(t, "raw")
		var evts fdtable.State
		for i, b := range []fdtable.State{fdtable.ReadyR, fdtable.ReadyW, fdtable.ShutR, fdtable.ShutW, fdtable.ErrRW} {
			if raw&(1<<i) != 0 {
				evts |= b
			}
		}
		return evts
	}),
)

func b2m(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

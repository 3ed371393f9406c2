package fdtable_test

import (
	"fmt"
	"math/bits"
	"slices"

	"github.com/evpoll/evpoll/fdtable"
)

// This file is a model-based test: random sequences of table operations
// from 1-4 simulated threads (and the external handle), checked after every
// step against a reference model written from haproxy-semantics.md §4-§5
// (2.2 semantics with the deviations listed in doc.go).

// modelPool are the fd numbers the model uses: high enough not to collide
// with the process's own descriptors, and spread over two chunks. Few fds
// make collisions (shared-list order, reuse, stale entries) frequent.
var modelPool = []int{3000, 3071, 3072}

// iocb actions, run inside the iocb on the reporting thread.
const (
	actNil      = -1 // no iocb at all
	actNone     = 0
	actWantRecv = 1
	actWantSend = 2
	actStopBoth = 3
	actRemove   = 4
)

type mfd struct {
	open                         bool
	state                        fdtable.State
	ev                           fdtable.State
	thread, update, pollR, pollS uint64
	next, prev                   int32
	gen                          uint32
	act                          int
	linger                       bool
	real                         bool // a real descriptor exists at this number
}

type model struct {
	fds         map[int]*mfd
	chunks      map[int]bool
	first, last int32
	local       map[int][]int // by thread id
	all         uint64
	used        int
	hooks       []hookCall
	iocbs       int
}

func newModel(nth int) *model {
	m := &model{fds: map[int]*mfd{}, chunks: map[int]bool{}, first: -1, last: -1, local: map[int][]int{}}
	for _, fd := range modelPool {
		m.fds[fd] = &mfd{next: -3, prev: -1}
	}
	for i := range nth {
		m.all |= 1 << i
		m.local[i] = []int{}
	}
	return m
}

func tidBit(tid int) uint64 {
	if tid < 0 {
		return 0
	}
	return 1 << tid
}

// §5.3
func (m *model) listAdd(fd int) {
	f := m.fds[fd]
	if f.next >= -1 {
		return
	}
	if m.last == -1 {
		m.first = int32(fd)
		f.prev = -1
	} else {
		m.fds[int(m.last)].next = int32(fd)
		f.prev = m.last
	}
	f.next = -1
	m.last = int32(fd)
}

// §5.4
func (m *model) listRemove(fd int) {
	f := m.fds[fd]
	if f.next < -1 {
		return
	}
	if f.prev >= 0 {
		m.fds[int(f.prev)].next = f.next
	} else {
		m.first = f.next
	}
	if f.next >= 0 {
		m.fds[int(f.next)].prev = f.prev
	} else {
		m.last = f.prev
	}
	f.next = -(f.next + 4)
}

// §4.11
func (m *model) updatePolling(tid, fd int) {
	f := m.fds[fd]
	bit := tidBit(tid)
	if bit != 0 && f.thread&m.all == bit {
		if f.update&bit != 0 {
			return
		}
		f.update |= bit
		m.local[tid] = append(m.local[tid], fd)
		return
	}
	if f.update == f.thread {
		return
	}
	f.update = f.thread
	m.listAdd(fd)
}

// stateOp applies one of the §4.6 operations.
func (m *model) stateOp(tid int, op string, fd int) string {
	f := m.fds[fd]
	if !f.open {
		return "ErrNotOpen"
	}
	const aR, rR, aW, rW = fdtable.ActiveR, fdtable.ReadyR, fdtable.ActiveW, fdtable.ReadyW
	switch op {
	case "WantRecv", "WantSend":
		b := aR
		if op == "WantSend" {
			b = aW
		}
		if f.state&b == 0 {
			f.state |= b
			m.updatePolling(tid, fd)
		}
	case "StopRecv":
		f.state &^= aR
	case "StopSend":
		f.state &^= aW
	case "StopBoth":
		f.state &^= aR | aW
	case "CantRecv":
		f.state &^= rR
	case "CantSend":
		f.state &^= rW
	case "MayRecv":
		f.state |= rR
	case "MaySend":
		f.state |= rW
	default:
		panic(op)
	}
	return "nil"
}

// §4.7
func (m *model) insert(fd int, mask uint64, act int) string {
	if mask == 0 {
		return "ErrBadThread"
	}
	m.chunks[fd/fdtable.ChunkEntries] = true
	f := m.fds[fd]
	if f.open {
		return "ErrInUse"
	}
	f.open, f.state, f.ev, f.thread, f.act, f.linger = true, fdtable.ReadyR|fdtable.ReadyW, 0, mask, act, false
	f.gen++
	m.used++
	return "nil"
}

// §4.8, with the close hooks of every polled thread.
func (m *model) release(fd int, keepOpen bool) string {
	f := m.fds[fd]
	if !f.open {
		return "ErrNotOpen"
	}
	polled := f.pollR | f.pollS
	for polled != 0 {
		tid := bits.TrailingZeros64(polled)
		polled &^= 1 << tid
		m.hooks = append(m.hooks, hookCall{Tid: tid, FD: fd, KeepOpen: keepOpen, FDValid: f.real, PollRecv: f.pollR, PollSend: f.pollS})
	}
	f.pollR, f.pollS, f.state, f.thread, f.open, f.linger = 0, 0, 0, 0, false, false
	m.used--
	if !keepOpen {
		f.real = false
	}
	return "nil"
}

// §4.10 with Q1 fixed.
func (m *model) updateEvents(tid, fd int, evts fdtable.State) bool {
	f := m.fds[fd]
	if !f.open {
		return false
	}
	bit := tidBit(tid)
	if bit != 0 && f.thread&bit == 0 {
		return false // migrated: nothing applied, no callback, no lazy stop
	}
	st := f.state
	// conditions last reported: IN, OUT, HUP and ERR as READY_R,
	// READY_W, SHUT_R and ERR_RW
	var nev fdtable.State
	if evts&fdtable.ReadyR != 0 {
		nev |= fdtable.ReadyR
	}
	if evts&fdtable.ReadyW != 0 {
		nev |= fdtable.ReadyW
	}
	if evts&fdtable.ShutR != 0 {
		nev |= fdtable.ShutR
	}
	if evts&fdtable.ErrRW != 0 || (evts&fdtable.ShutW != 0 && st&fdtable.ActiveW != 0) {
		nev |= fdtable.ErrRW
	}
	var stop fdtable.State
	switch {
	case st&fdtable.ActiveRW == 0:
		stop = fdtable.ActiveRW
	case st&fdtable.ActiveR == 0 && evts&(fdtable.ReadyR|fdtable.ShutR|fdtable.ErrRW) != 0:
		stop = fdtable.ActiveR
	case st&fdtable.ActiveW == 0 && evts&(fdtable.ReadyW|fdtable.ShutW|fdtable.ErrRW) != 0:
		stop = fdtable.ActiveW
	}
	f.ev = f.ev&(fdtable.ErrRW|fdtable.ShutR) | nev
	if f.ev&(fdtable.ReadyR|fdtable.ShutR|fdtable.ErrRW) != 0 {
		f.state |= fdtable.ReadyR
	}
	if f.ev&(fdtable.ReadyW|fdtable.ErrRW) != 0 {
		f.state |= fdtable.ReadyW
	}
	called := false
	if f.state&fdtable.ActiveRW != 0 && bit != 0 {
		if f.act != actNil {
			called = true
			m.iocbs++
			switch f.act {
			case actWantRecv:
				m.stateOp(tid, "WantRecv", fd)
			case actWantSend:
				m.stateOp(tid, "WantSend", fd)
			case actStopBoth:
				m.stateOp(tid, "StopBoth", fd)
			case actRemove:
				m.release(fd, true)
			}
		}
	}
	if stop != 0 && bit != 0 && f.update&bit == 0 && f.open {
		if (stop&fdtable.ActiveR != 0 && f.state&fdtable.ActiveR == 0) ||
			(stop&fdtable.ActiveW != 0 && f.state&fdtable.ActiveW == 0) {
			f.update |= bit
			m.local[tid] = append(m.local[tid], fd)
		}
	}
	return called
}

// §5.6
func (m *model) drain(tid int, perThread bool) (updated []int, dropped int) {
	bit := tidBit(tid)
	if bit == 0 {
		return nil, 0
	}
	for _, fd := range m.local[tid] {
		f := m.fds[fd]
		f.update &^= bit
		if !f.open {
			dropped++
			continue
		}
		updated = append(updated, fd)
	}
	m.local[tid] = []int{}
	var glob []int
	for cur := m.first; cur >= 0; {
		f := m.fds[int(cur)]
		next := f.next
		if f.update&bit != 0 {
			if perThread {
				f.update &^= bit
			} else {
				f.update &^= m.all
			}
			if f.update&m.all == 0 {
				m.listRemove(int(cur))
				f.update &= m.all // bits of threads that do not exist
			}
			glob = append(glob, int(cur))
		} else if f.update == 0 {
			// Deviation: an entry nobody has to acknowledge any more
			// (a stray bit cleared by a local drain) is collected.
			m.listRemove(int(cur))
		}
		cur = next
	}
	for _, fd := range glob {
		if m.fds[fd].open {
			updated = append(updated, fd)
		}
	}
	return updated, dropped
}

func (m *model) takeover(tid, fd int, gen uint32) string {
	if tid < 0 {
		return "ErrBadThread"
	}
	f := m.fds[fd]
	if !f.open {
		return "ErrNotOpen"
	}
	if f.gen != gen {
		return "ErrNotOpen"
	}
	f.thread = tidBit(tid)
	f.state &^= fdtable.ActiveR
	if f.state&fdtable.ActiveW != 0 {
		m.updatePolling(tid, fd)
	}
	return "nil"
}

// modelView is what is compared after each step.
type modelView struct {
	FDs         map[int]modelFDView
	Shared      []int
	First, Last int32
	Local       map[int][]int
	Used        int
	Hooks       []hookCall
	IOCBs       int
}

type modelFDView struct {
	Snap   fdSnap
	Linger bool
	Owner  any
}

func ownerOf(fd int, gen uint32) string { return fmt.Sprintf("owner %d/%d", fd, gen) }

func (m *model) view() modelView {
	v := modelView{FDs: map[int]modelFDView{}, Local: map[int][]int{}, Used: m.used, Hooks: slices.Clone(m.hooks), IOCBs: m.iocbs, First: m.first, Last: m.last}
	for fd, f := range m.fds {
		s := fdSnap{Open: f.open, State: f.state, Ev: f.ev, Thread: f.thread, Update: f.update,
			Links: fdtable.ListLinks{Next: f.next, Prev: f.prev}, Gen: f.gen}
		if m.chunks[fd/fdtable.ChunkEntries] {
			s.PollRecv, s.PollSend = f.pollR, f.pollS
		}
		fv := modelFDView{Snap: s, Linger: f.linger}
		if f.open {
			fv.Owner = ownerOf(fd, f.gen)
		}
		v.FDs[fd] = fv
	}
	v.Shared = []int{}
	for cur := m.first; cur >= 0; cur = m.fds[int(cur)].next {
		v.Shared = append(v.Shared, int(cur))
	}
	for tid, l := range m.local {
		v.Local[tid] = slices.Clone(l)
	}
	return v
}

// sut is the system under test plus what the test records from it.
type sut struct {
	tab   *fdtable.Table
	ths   []*fdtable.Thread // real threads, then the external handle
	hooks *[]hookCall
	iocbs int
	cur   *fdtable.Thread // thread running UpdateEvents, for iocb actions
}

func (s *sut) view() modelView {
	v := modelView{FDs: map[int]modelFDView{}, Local: map[int][]int{}, Used: s.tab.Used(), Hooks: slices.Clone(*s.hooks), IOCBs: s.iocbs}
	for _, fd := range modelPool {
		v.FDs[fd] = modelFDView{Snap: snap(s.tab, fd), Linger: s.tab.LingerRisk(fd), Owner: s.tab.Owner(fd)}
	}
	var fds []int
	fds, v.First, v.Last = s.tab.SharedList()
	v.Shared = append([]int{}, fds...)
	for _, th := range s.ths[:len(s.ths)-1] {
		v.Local[th.ID()] = local(th)
	}
	return v
}

func (s *sut) iocbFor(act int) func(int, any) {
	if act == actNil {
		return nil
	}
	return func(fd int, owner any) {
		s.iocbs++
		th := s.cur
		switch act {
		case actWantRecv:
			th.WantRecv(fd)
		case actWantSend:
			th.WantSend(fd)
		case actStopBoth:
			th.StopBoth(fd)
		case actRemove:
			th.Remove(fd)
		}
	}
}

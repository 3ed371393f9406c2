package loop

import (
	"math/bits"

	"github.com/evpoll/evpoll/poller"
)

// altWheel is the alternative the wait queue's heap was measured against
// (BenchmarkTimers, queue=wheel): a hierarchical timing wheel, where level 0 has one slot per
// millisecond for the next 256 ms, levels 1 to 4 have 64 slots each,
// covering 2^14, 2^20, 2^26 and 2^32 ms. A timer goes to the lowest level
// whose span holds its distance from the wheel's position, and is moved
// down a level (cascaded) when the position reaches the start of its
// slot, so every operation costs a constant number of list operations
// whatever the number of timers. Its slot index comes from the bits of its
// date, so the 32-bit wrap needs no special case; positions are kept in 64
// bits internally for the same reason.
const (
	wheelBits0 = 8
	wheelBitsN = 6
	wheelSlot0 = 1 << wheelBits0
	wheelSlotN = 1 << wheelBitsN
	wheelLevs  = 5 // level 0 plus four upper levels: 8+4*6 = 32 bits

	lvlNone = -1
	lvlDue  = wheelLevs // the list of timers already due when queued
)

// wnode is a task's place in a wheel; the benchmarks keep it as the
// task's context.
type wnode struct {
	next, prev *wnode
	key        uint32 // the date the node is filed under (a lower bound of the task's)
	lvl        int8
	slot       uint8
	t          *Task
}

func (n *wnode) queued() bool { return n.lvl != lvlNone }

type wlist struct{ head *wnode }

// wheel is one wait queue.
type wheel struct {
	cur   uint64 // the next tick to process: every earlier slot is done
	casc  uint64 // the last position cascade ran at, plus one
	n     int
	due   wlist
	l0    [wheelSlot0]wlist
	ln    [wheelLevs - 1][wheelSlotN]wlist
	bits0 [wheelSlot0 / 64]uint64
	bitsN [wheelLevs - 1]uint64
}

func (w *wheel) init(now poller.Tick) { w.cur = uint64(now) }

// at returns the 64-bit position of the 32-bit date k, taken within 2^31
// of the wheel's position.
func (w *wheel) at(k uint32) uint64 {
	return w.cur + uint64(int64(int32(k-uint32(w.cur))))
}

func (w *wheel) list(lvl int8, slot uint8) *wlist {
	switch {
	case lvl == 0:
		return &w.l0[slot]
	case lvl == lvlDue:
		return &w.due
	}
	return &w.ln[lvl-1][slot]
}

// insert files n under key.
func (w *wheel) insert(n *wnode, key uint32) {
	n.key = key
	d := int64(int32(key - uint32(w.cur)))
	var lvl int8
	var slot uint8
	switch {
	case d < 0:
		lvl = lvlDue
	case d < wheelSlot0:
		slot = uint8(key)
		w.bits0[slot/64] |= 1 << (slot % 64)
	default:
		k := w.at(key)
		lvl = 1
		for shift := uint(wheelBits0 + wheelBitsN); d >= 1<<shift && lvl < wheelLevs-1; shift += wheelBitsN {
			lvl++
		}
		slot = uint8(k>>(wheelBits0+wheelBitsN*uint(lvl-1))) & (wheelSlotN - 1)
		w.bitsN[lvl-1] |= 1 << slot
	}
	n.lvl, n.slot = lvl, slot
	l := w.list(lvl, slot)
	n.prev = nil
	n.next = l.head
	if l.head != nil {
		l.head.prev = n
	}
	l.head = n
	w.n++
}

// remove takes n, which is queued, out of the wheel.
func (w *wheel) remove(n *wnode) {
	l := w.list(n.lvl, n.slot)
	if n.prev != nil {
		n.prev.next = n.next
	} else {
		l.head = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	}
	if l.head == nil {
		switch n.lvl {
		case 0:
			w.bits0[n.slot/64] &^= 1 << (n.slot % 64)
		case lvlDue:
		default:
			w.bitsN[n.lvl-1] &^= 1 << n.slot
		}
	}
	n.next, n.prev = nil, nil
	n.lvl = lvlNone
	w.n--
}

// cascade moves the timers of the upper-level slots that start at the
// wheel's position one level down or more, as each level's index wraps.
// It runs once per position (next may run it ahead of expire).
func (w *wheel) cascade() {
	if w.casc == w.cur+1 {
		return
	}
	w.casc = w.cur + 1
	for lvl := int8(1); lvl < wheelLevs; lvl++ {
		shift := uint(wheelBits0 + wheelBitsN*uint(lvl-1))
		slot := uint8(w.cur>>shift) & (wheelSlotN - 1)
		head := w.ln[lvl-1][slot].head
		w.ln[lvl-1][slot].head = nil
		w.bitsN[lvl-1] &^= 1 << slot
		for n := head; n != nil; {
			next := n.next
			w.n--
			w.insert(n, n.key)
			n = next
		}
		if slot != 0 {
			return
		}
	}
}

// firstSet0 returns the distance from the wheel's position to the first
// non-empty level-0 slot in this rotation, or wheelSlot0 if none.
func (w *wheel) firstSet0() int {
	start := int(w.cur & (wheelSlot0 - 1))
	for i := start / 64; i < len(w.bits0); i++ {
		word := w.bits0[i]
		if i == start/64 {
			word &= ^uint64(0) << (start % 64)
		}
		if word != 0 {
			return i*64 + bits.TrailingZeros64(word) - start
		}
	}
	return wheelSlot0
}

// expire wakes the tasks whose dates have passed at now, from th, and
// files again those whose real date is later than their key (the lazy
// re-key of HAProxy's wake_expired_tasks: a task pushed back is not
// woken, only moved, when its old key is reached).
func (w *wheel) expire(th *Thread, now poller.Tick) {
	for n := w.due.head; n != nil; n = w.due.head {
		w.fire(th, n, now)
	}
	end := w.at(uint32(now))
	for w.cur <= end {
		if w.n == 0 {
			w.cur = end + 1
			return
		}
		idx := w.cur & (wheelSlot0 - 1)
		if idx == 0 {
			w.cascade()
		}
		if l := &w.l0[idx]; l.head != nil {
			for n := l.head; n != nil; n = l.head {
				w.fire(th, n, now)
			}
			w.cur++
			continue
		}
		// Skip the empty slots up to the next timer, the next cascade
		// or now.
		w.cur = min(w.cur+uint64(w.firstSet0()), (w.cur|(wheelSlot0-1))+1, end+1)
	}
}

// fire handles n, whose key has been reached.
func (w *wheel) fire(th *Thread, n *wnode, now poller.Tick) {
	w.remove(n)
	t := n.t
	exp := t.Expire()
	if exp.IsExpired(now) {
		th.l.wakeup(th, t, WokenTimer)
		return
	}
	if exp.IsSet() {
		w.insert(n, uint32(exp))
	}
}

// next returns the date of the first timer if it is due within the next
// 256 ms; otherwise the date of the next cascade that has timers to move,
// which is earlier than any of them (so that the caller wakes up in time
// to file them exactly); Eternity with no timers.
func (w *wheel) next() poller.Tick {
	if w.n == 0 {
		return poller.Eternity
	}
	if w.due.head != nil {
		return tickOf(w.cur - 1)
	}
	if w.cur&(wheelSlot0-1) == 0 {
		// Timers waiting for the cascade at the current position may
		// be earlier than those already in level 0.
		w.cascade()
	}
	if d := w.firstSet0(); d < wheelSlot0 {
		return tickOf(w.cur + uint64(d))
	}
	// Level-0 slots before the current index hold dates after the next
	// cascade point.
	best := uint64(0)
	if idx := w.cur & (wheelSlot0 - 1); idx != 0 {
		for i := range int(idx+63) / 64 {
			word := w.bits0[i]
			if rem := int(idx) - i*64; rem < 64 {
				word &= 1<<rem - 1
			}
			if word != 0 {
				best = (w.cur | (wheelSlot0 - 1)) + 1 + uint64(i*64+bits.TrailingZeros64(word))
				break
			}
		}
	}
	for lvl := 1; lvl < wheelLevs; lvl++ {
		m := w.bitsN[lvl-1]
		if m == 0 {
			continue
		}
		shift := uint(wheelBits0 + wheelBitsN*uint(lvl-1))
		span := uint64(1) << (shift + wheelBitsN)
		base := w.cur &^ (span - 1)
		// The first slot at or after the current index, in rotation
		// order, is the next to cascade.
		c := uint(w.cur>>shift) & (wheelSlotN - 1)
		rot := bits.RotateLeft64(m, -int(c))
		s := (uint(bits.TrailingZeros64(rot)) + c) & (wheelSlotN - 1)
		t := base + uint64(s)<<shift
		if t < w.cur {
			t += span
		}
		if best == 0 || t < best {
			best = t
		}
	}
	return tickOf(best)
}

// tickOf turns a wheel position into a date; position 0 mod 2^32 is read
// as 1 so that it does not mean Eternity.
func tickOf(p uint64) poller.Tick {
	if uint32(p) == 0 {
		return 1
	}
	return poller.Tick(uint32(p))
}

package loop

// hnode is a task's place in one of the 4-ary heaps (wait queue or run
// queue). idx is its position, -1 when the node is in no heap, so that
// removal and re-keying need no search.
type hnode struct {
	key uint32
	idx int32
	t   *Task
}

func (n *hnode) queued() bool { return n.idx >= 0 }

// keyLess orders keys on the wrapping 32-bit clock (HAProxy's tick_is_lt):
// a is before b if the signed difference is negative. The order is a total
// order over any set of keys spanning less than 2^31, which holds for the
// wait queue (dates within 24.8 days of now, as HAProxy's look-back window
// requires) and for the run queue (insertion tickets plus bounded nice
// offsets).
func keyLess(a, b uint32) bool { return int32(a-b) < 0 }

// heap4 is a 4-ary min-heap of nodes. The keys are stored in the heap's
// array beside the node pointers, so that sifting compares contiguous
// memory and touches a node only to update its index: with the keys read
// through the pointers instead, removing the first of 100k timers cost
// about four times as much (a cache miss per child compared). A 4-ary heap
// is shallower than a binary one, and its four children's entries share a
// cache line.
type heap4 struct {
	n []hent
}

type hent struct {
	key uint32
	n   *hnode
}

func (h *heap4) len() int { return len(h.n) }

func (h *heap4) min() *hnode {
	if len(h.n) == 0 {
		return nil
	}
	return h.n[0].n
}

func (h *heap4) push(x *hnode) {
	i := len(h.n)
	h.n = append(h.n, hent{x.key, x})
	h.up(i)
}

// remove takes x out of the heap; x must be in it.
func (h *heap4) remove(x *hnode) {
	i := int(x.idx)
	last := len(h.n) - 1
	x.idx = -1
	if i == last {
		h.n[last] = hent{}
		h.n = h.n[:last]
		return
	}
	h.n[i] = h.n[last]
	h.n[i].n.idx = int32(i)
	h.n[last] = hent{}
	h.n = h.n[:last]
	if !h.down(i) {
		h.up(i)
	}
}

// popMin removes and returns the first node, nil if the heap is empty.
func (h *heap4) popMin() *hnode {
	x := h.min()
	if x != nil {
		h.remove(x)
	}
	return x
}

// rekey gives x, which is in the heap, a new key and restores the order.
func (h *heap4) rekey(x *hnode, key uint32) {
	old := x.key
	x.key = key
	i := int(x.idx)
	h.n[i].key = key
	if keyLess(key, old) {
		h.up(i)
	} else {
		h.down(i)
	}
}

func (h *heap4) up(i int) {
	x := h.n[i]
	for i > 0 {
		p := (i - 1) / 4
		if !keyLess(x.key, h.n[p].key) {
			break
		}
		h.n[i] = h.n[p]
		h.n[i].n.idx = int32(i)
		i = p
	}
	h.n[i] = x
	x.n.idx = int32(i)
}

// down sifts entry i towards the leaves and reports whether it moved.
func (h *heap4) down(i int) bool {
	n := len(h.n)
	x := h.n[i]
	start := i
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		m := c
		mk := h.n[c].key
		end := min(c+4, n)
		for j := c + 1; j < end; j++ {
			if k := h.n[j].key; keyLess(k, mk) {
				m, mk = j, k
			}
		}
		if !keyLess(mk, x.key) {
			break
		}
		h.n[i] = h.n[m]
		h.n[i].n.idx = int32(i)
		i = m
	}
	h.n[i] = x
	x.n.idx = int32(i)
	return i != start
}

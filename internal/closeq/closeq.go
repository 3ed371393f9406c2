// Package closeq is the queue of closed fds that a backend keeping its
// registrations in user space (poll, select) fills from its close hook,
// which may run on any goroutine, and applies on its polling goroutine at
// the start of the next cycle.
package closeq

import (
	"slices"
	"sync"
	"sync/atomic"
)

// FD is an fd with the generation it had when its close hook ran: only the
// registration of that generation is to be removed, not one made since for
// a new user of the same fd number.
type FD struct {
	FD  int
	Gen uint32
}

// Queue is safe for concurrent Push; Take belongs to one goroutine.
type Queue struct {
	n      atomic.Int32 // len(items), read without the lock
	mu     sync.Mutex
	items  []FD
	spare  []FD
	closed bool
}

// Push queues fd with generation gen. It does nothing after Close.
func (q *Queue) Push(fd int, gen uint32) {
	q.mu.Lock()
	if !q.closed {
		q.items = append(q.items, FD{fd, gen})
		q.n.Add(1)
	}
	q.mu.Unlock()
}

// Take empties the queue and returns what it held, without taking the lock
// when it is empty. The slice is valid until the next Take.
func (q *Queue) Take() []FD {
	if q.n.Load() == 0 {
		return nil
	}
	q.mu.Lock()
	out := q.items
	q.items, q.spare = q.spare[:0], out
	q.n.Store(0)
	q.mu.Unlock()
	return out
}

// Contains reports whether fd with generation gen is queued.
func (q *Queue) Contains(fd int, gen uint32) bool {
	if q.n.Load() == 0 {
		return false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Contains(q.items, FD{fd, gen})
}

// Close empties the queue and makes later Pushes no-ops.
func (q *Queue) Close() {
	q.mu.Lock()
	q.closed = true
	q.items, q.spare = nil, nil
	q.n.Store(0)
	q.mu.Unlock()
}

package evnet

import (
	"sync"
	"sync/atomic"

	"github.com/evpoll/evpoll/loop"
)

// readBufSize is the size of each thread's read buffer.
const readBufSize = 64 << 10

// netState is what evnet keeps per loop: one threadState per thread.
// It exists while the loop has evnet listeners or connections, and is
// dropped when the last of them closes.
type netState struct {
	l       *loop.Loop
	users   atomic.Int64 // listeners and connections
	threads []*threadState
	unhook  func() // removes the loop stop hook
}

// threadState is one thread's share: its read buffer, its live
// connection count and list, its listeners and its accept queue, which
// other threads fill with new connections and its own tasklet drains
// (HAProxy's per-thread accept queue).
type threadState struct {
	th    *loop.Thread
	buf   []byte // allocated by the thread itself on first use
	conns atomic.Int64
	live  *Conn // started connections, linked through Conn.prev/next; thread only
	mu    sync.Mutex
	queue []*Conn
	spare []*Conn
	lns   []*Listener // listeners accepting on this thread
	// stopped is set under mu by the loop's stop hook: the thread runs no
	// more, so nothing may be queued for it.
	stopped bool
	tl      *loop.Tasklet
}

var (
	statesMu sync.Mutex
	states   = map[*loop.Loop]*netState{}
)

// acquire returns l's state, creating it (with its loop stop hook) if
// needed, and counts one more user of it. It fails with ErrLoopStopped
// once l has stopped.
func acquire(l *loop.Loop) (*netState, error) {
	statesMu.Lock()
	defer statesMu.Unlock()
	st := states[l]
	if st == nil {
		st = &netState{l: l}
		for _, th := range l.Threads() {
			ts := &threadState{th: th}
			ts.tl = l.NewTasklet(takeConns, ts, th.ID())
			st.threads = append(st.threads, ts)
		}
		unhook, err := l.OnStop(st.stopThread)
		if err != nil {
			return nil, ErrLoopStopped
		}
		st.unhook = unhook
		states[l] = st
	}
	st.users.Add(1)
	return st, nil
}

// release counts one user less of st and, after the last, forgets st and
// removes its stop hook.
func (st *netState) release() {
	if st.users.Add(-1) != 0 {
		return
	}
	statesMu.Lock()
	defer statesMu.Unlock()
	if st.users.Load() == 0 && states[st.l] == st {
		delete(states, st.l)
		st.unhook()
	}
}

// handOff queues c for its thread, which inserts it into the fd table
// from its accept-queue tasklet. from is the calling loop thread, nil
// outside the loop. It returns false, queueing nothing, once the loop's
// stop hook has run for that thread.
func (ts *threadState) handOff(c *Conn, from *loop.Thread) bool {
	ts.mu.Lock()
	if ts.stopped {
		ts.mu.Unlock()
		return false
	}
	ts.queue = append(ts.queue, c)
	ts.mu.Unlock()
	ts.tl.Wakeup(from)
	return true
}

// takeConns is a thread's accept-queue tasklet.
func takeConns(_ *loop.Tasklet, ctx any, _ loop.State) {
	ts := ctx.(*threadState)
	ts.mu.Lock()
	q := ts.queue
	ts.queue = ts.spare[:0]
	ts.mu.Unlock()
	for i, c := range q {
		c.start()
		q[i] = nil
	}
	ts.mu.Lock()
	ts.spare = q[:0]
	ts.mu.Unlock()
}

// readBuf returns the thread's read buffer; call it on that thread.
func (ts *threadState) readBuf() []byte {
	if ts.buf == nil {
		ts.buf = make([]byte, readBufSize)
	}
	return ts.buf
}

// pick chooses the thread for a new connection among the threads of mask
// (HAProxy: listener_accept): the less loaded of two threads taken in turn,
// the first on a tie. next is the turn, advanced by one thread per pick.
func (st *netState) pick(mask uint64, next *uint32) *threadState {
	n := len(st.threads)
	first, start := -1, int(*next)
	for i := range n {
		j := (start + i) % n
		if mask&st.threads[j].th.Bit() == 0 {
			continue
		}
		if first < 0 {
			first = j
			*next = uint32(j + 1)
			continue
		}
		if st.threads[j].conns.Load() < st.threads[first].conns.Load() {
			return st.threads[j]
		}
		break
	}
	if first < 0 {
		return st.threads[0]
	}
	return st.threads[first]
}

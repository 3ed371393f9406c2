package evnet

import (
	"github.com/evpoll/evpoll/loop"
	"golang.org/x/sys/unix"
)

// stopThread is evnet's loop stop hook (see loop.Loop.OnStop), run on each
// thread once the loop's threads have left Run: whatever a hard stop left
// open on th is closed there, with ErrLoopStopped. The listeners accepting
// on th close first, then the connections still in th's accept queue
// (their fds were never in the table) and then th's started connections,
// each of which gets OnClose. Nothing can be queued for th afterwards.
func (st *netState) stopThread(th *loop.Thread) {
	ts := st.threads[th.ID()]
	ts.mu.Lock()
	ts.stopped = true
	lns := append([]*Listener(nil), ts.lns...)
	q := ts.queue
	ts.queue = nil
	ts.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
	for _, c := range q {
		unix.Close(c.fd)
		c.finish(ErrLoopStopped)
	}
	// A handler's OnClose may close other connections of this thread,
	// so take the head of the list each time.
	for ts.live != nil {
		c := ts.live
		ts.unlink(c)
		c.closeNow(ErrLoopStopped)
	}
}

// link adds a started connection to its thread's list.
func (ts *threadState) link(c *Conn) {
	c.prev, c.next = nil, ts.live
	if ts.live != nil {
		ts.live.prev = c
	}
	ts.live = c
	c.linked = true
}

// unlink takes c out of its thread's list, if it is there.
func (ts *threadState) unlink(c *Conn) {
	if !c.linked {
		return
	}
	prev, next := c.prev, c.next
	switch {
	case prev == nil:
		ts.live = next
	default:
		prev.next = next
	}
	if next != nil {
		next.prev = prev
	}
	c.prev, c.next, c.linked = nil, nil, false
}

// discard undoes newConn for a connection that never reached its thread
// (the loop had stopped): the fd closes and no callback runs.
func (c *Conn) discard() {
	unix.Close(c.fd)
	c.flags |= fClosed
	c.closed.Store(true)
	c.ts.conns.Add(-1)
	c.st.l.AddJobs(-1)
	c.st.release()
}

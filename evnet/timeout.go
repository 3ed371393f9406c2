package evnet

import (
	"time"

	"github.com/evpoll/evpoll/loop"
	"github.com/evpoll/evpoll/poller"
)

// arm makes the connection's timer task fire no later than when. The
// task is bound to the connection's thread, so this takes no lock.
// Deadlines that move later (every read pushes the idle deadline) do not
// touch the wait queue: the task fires at the old date, finds nothing
// expired and goes back for the new one.
func (c *Conn) arm(when poller.Tick) {
	if !when.IsSet() || c.flags&fClosed != 0 {
		return
	}
	if c.task == nil {
		c.task = c.st.l.NewTask(connTimer, c, c.th.Bit())
	}
	if exp := c.task.Expire(); exp.IsSet() && exp.BeforeOrEqual(when) && c.task.State()&loop.Dead == 0 {
		return
	}
	c.th.Schedule(c.task, when)
}

// connTimer is a connection's timer task: it closes the connection with
// the timeout that expired, or re-arms for the next deadline.
func connTimer(t *loop.Task, ctx any, _ loop.State) bool {
	c := ctx.(*Conn)
	if c.flags&fClosed != 0 {
		return false
	}
	now := c.th.Now()
	expired := func(dl poller.Tick) bool { return dl.IsSet() && dl.IsExpired(now) }
	var err error
	switch {
	case c.flags&fConnecting != 0 && expired(c.connDL):
		err = ErrConnectTimeout
	case c.reading() && c.readTO > 0 && expired(c.readDL):
		err = ErrReadTimeout
	case c.Buffered() > 0 && c.writeTO > 0 && expired(c.writeDL):
		err = ErrWriteTimeout
	case c.idleTO > 0 && expired(c.idleDL):
		err = ErrIdleTimeout
	case expired(c.closeDL):
		err = ErrDeadline
	}
	if err != nil {
		c.out, c.outOff = c.out[:0], 0
		c.closeNow(err)
		return false
	}
	next := poller.Eternity
	if c.flags&fConnecting != 0 {
		next = next.First(c.connDL)
	}
	if c.reading() && c.readTO > 0 {
		next = next.First(c.readDL)
	}
	if c.Buffered() > 0 && c.writeTO > 0 {
		next = next.First(c.writeDL)
	}
	if c.idleTO > 0 {
		next = next.First(c.idleDL)
	}
	next = next.First(c.closeDL)
	t.SetExpire(next)
	return true
}

// SetDeadline closes the connection with ErrDeadline if it is still open
// d from now, whatever its activity (a server bounds the time a client
// takes to send a request head with it); 0 clears it.
func (c *Conn) SetDeadline(d time.Duration) {
	c.closeDL = c.deadline(toMS(d))
	c.arm(c.closeDL)
}

package evnet

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evpoll/evpoll/loop"
	"github.com/evpoll/evpoll/poller"
	"golang.org/x/sys/unix"
)

// Handler receives a connection's events, all on the connection's thread.
type Handler interface {
	// OnOpen runs once the connection is in the fd table (accepted) or
	// connected (dialed), before any other callback.
	OnOpen(c *Conn)
	// OnData runs with bytes read from the connection. data is the
	// thread's read buffer: it is valid only until OnData returns.
	OnData(c *Conn, data []byte)
	// OnWritable runs when buffered output has all been written.
	OnWritable(c *Conn)
	// OnClose runs once, after the fd is closed, with the reason: nil for
	// a local Close, io.EOF for an orderly close by the peer, otherwise a
	// wrapped system-call or timeout error. A dial that fails calls
	// OnClose without OnOpen.
	OnClose(c *Conn, err error)
}

// EOFHandler is implemented by handlers that want the peer's FIN as an
// event of its own: the connection then stays open for writing (a
// half-close) until it is closed or CloseWrite is called.
type EOFHandler interface {
	OnEOF(c *Conn)
}

// DefaultHighWater is the output buffer size above which a connection
// stops reading.
const DefaultHighWater = 256 << 10

// Connection flags.
const (
	fConnecting    = 1 << iota // dialed, connect not complete
	fStarted                   // inserted in the fd table
	fUserPaused                // PauseRead
	fHWPaused                  // output above the high-water mark
	fEOF                       // the peer's FIN was read
	fShutWPending              // CloseWrite once the output is written
	fShutW                     // write side shut
	fClosing                   // Close once the output is written
	fCloseDeferred             // close when the running callback returns
	fClosed
)

// Conn is one stream connection owned by one loop thread. Its methods
// must be called on that thread (from its callbacks, tasks or tasklets),
// except AsyncWrite, which is safe from any goroutine.
type Conn struct {
	st    *netState
	ts    *threadState
	th    *loop.Thread
	fd    int
	h     Handler
	eof   EOFHandler
	ctx   any
	flags uint32
	depth int   // callbacks running
	err   error // dial failure to report, or reason of a deferred close
	tcp   bool

	prev, next *Conn // in the thread's list of started connections
	linked     bool

	sa     unix.Sockaddr // peer address as accepted or dialed
	remote net.Addr

	out       []byte
	outOff    int
	highWater int

	task                    *loop.Task
	readTO, writeTO, idleTO int // ms, 0 for none
	connTO                  int
	readDL, writeDL, idleDL poller.Tick
	connDL                  poller.Tick
	closeDL                 poller.Tick // SetDeadline

	closed      atomic.Bool
	amu         sync.Mutex
	async       []byte
	asyncSpare  []byte
	asyncQueued bool
	tl          *loop.Tasklet
}

// newConn makes a connection for fd, owned by a thread picked from mask,
// counted as a job and as a user of st.
func newConn(st *netState, ts *threadState, fd int, h Handler) *Conn {
	c := &Conn{st: st, ts: ts, th: ts.th, fd: fd, h: h, highWater: DefaultHighWater}
	c.eof, _ = h.(EOFHandler)
	st.users.Add(1)
	ts.conns.Add(1)
	st.l.AddJobs(1)
	return c
}

// Thread returns the loop thread that owns the connection.
func (c *Conn) Thread() *loop.Thread { return c.th }

// Context returns the user context set with SetContext.
func (c *Conn) Context() any { return c.ctx }

// SetContext attaches a user value to the connection.
func (c *Conn) SetContext(v any) { c.ctx = v }

// Fd returns the connection's file descriptor, for socket options; the
// connection stays the owner of its I/O.
func (c *Conn) Fd() int { return c.fd }

// RemoteAddr returns the peer's address, nil if unknown.
func (c *Conn) RemoteAddr() net.Addr {
	if c.remote == nil && c.sa != nil {
		c.remote = toAddr(c.sa)
	}
	return c.remote
}

// LocalAddr returns the connection's local address, nil if unknown.
func (c *Conn) LocalAddr() net.Addr {
	sa, err := unix.Getsockname(c.fd)
	if err != nil {
		return nil
	}
	return toAddr(sa)
}

// Buffered returns the number of output bytes not yet written.
func (c *Conn) Buffered() int { return len(c.out) - c.outOff }

// SetHighWater sets the output size above which reading stops until the
// output is drained; n <= 0 means DefaultHighWater.
func (c *Conn) SetHighWater(n int) {
	if n <= 0 {
		n = DefaultHighWater
	}
	c.highWater = n
}

// SetReadTimeout closes the connection with ErrReadTimeout when nothing
// arrives for d while it is reading; 0 disables it.
func (c *Conn) SetReadTimeout(d time.Duration) {
	c.readTO = toMS(d)
	c.readDL = c.deadline(c.readTO)
	c.arm(c.readDL)
}

// SetWriteTimeout closes the connection with ErrWriteTimeout when
// buffered output makes no progress for d; 0 disables it.
func (c *Conn) SetWriteTimeout(d time.Duration) {
	c.writeTO = toMS(d)
	c.writeDL = poller.Eternity
	if c.Buffered() > 0 {
		c.writeDL = c.deadline(c.writeTO)
		c.arm(c.writeDL)
	}
}

// SetIdleTimeout closes the connection with ErrIdleTimeout when nothing
// is read or written for d; 0 disables it.
func (c *Conn) SetIdleTimeout(d time.Duration) {
	c.idleTO = toMS(d)
	c.idleDL = c.deadline(c.idleTO)
	c.arm(c.idleDL)
}

// PauseRead stops reading until ResumeRead, whatever the output buffer
// (a proxy pauses one side while the other side's output is full).
func (c *Conn) PauseRead() {
	if c.flags&fUserPaused == 0 {
		c.flags |= fUserPaused
		c.updateRecv()
	}
}

// ResumeRead undoes PauseRead.
func (c *Conn) ResumeRead() {
	if c.flags&fUserPaused != 0 {
		c.flags &^= fUserPaused
		c.updateRecv()
	}
}

// reading reports whether the connection wants to read.
func (c *Conn) reading() bool {
	return c.flags&(fConnecting|fUserPaused|fHWPaused|fEOF|fClosing|fClosed) == 0
}

// updateRecv makes the fd's receive interest follow reading().
func (c *Conn) updateRecv() {
	if c.flags&fStarted == 0 || c.flags&fClosed != 0 {
		return
	}
	if c.reading() {
		c.th.FD().WantRecv(c.fd)
		if c.readTO > 0 {
			c.readDL = c.deadline(c.readTO)
			c.arm(c.readDL)
		}
	} else {
		c.th.FD().StopRecv(c.fd)
	}
}

func toMS(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(max((d+time.Millisecond-1)/time.Millisecond, 1))
}

// deadline returns now plus ms, or Eternity for 0.
func (c *Conn) deadline(ms int) poller.Tick {
	if ms == 0 {
		return poller.Eternity
	}
	return c.th.Now().Add(ms)
}

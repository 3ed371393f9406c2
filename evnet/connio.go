package evnet

import (
	"io"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/loop"
	"golang.org/x/sys/unix"
)

// start runs on the connection's thread, from its accept-queue tasklet:
// the fd goes into the table for this thread, then the connection reads
// (accepted) or waits for its connect to complete (dialed).
func (c *Conn) start() {
	if c.err != nil {
		unix.Close(c.fd)
		c.finish(c.err)
		return
	}
	fdt := c.th.FD()
	if err := fdt.Insert(c.fd, c, connIO, c.th.Bit()); err != nil {
		unix.Close(c.fd)
		c.finish(err)
		return
	}
	c.flags |= fStarted
	c.ts.link(c)
	c.th.Activity().Accepted.Add(1)
	if c.flags&fConnecting != 0 {
		fdt.WantSend(c.fd)
		if c.connTO > 0 {
			c.connDL = c.deadline(c.connTO)
			c.arm(c.connDL)
		}
		return
	}
	c.open()
}

// open starts reading and tells the handler.
func (c *Conn) open() {
	c.updateRecv()
	if c.idleTO > 0 {
		c.idleDL = c.deadline(c.idleTO)
		c.arm(c.idleDL)
	}
	c.depth++
	c.h.OnOpen(c)
	c.leave()
	if c.Buffered() > 0 && c.flags&fClosed == 0 {
		c.th.FD().WantSend(c.fd)
	}
}

// leave ends a handler callback: a close asked for during it happens now.
func (c *Conn) leave() {
	c.depth--
	if c.depth == 0 && c.flags&(fCloseDeferred|fClosed) == fCloseDeferred {
		c.closeNow(c.err)
	}
}

// connIO is every connection's fd callback.
func connIO(fd int, owner any) {
	c := owner.(*Conn)
	if c.flags&fClosed != 0 {
		return
	}
	if c.flags&fConnecting != 0 {
		c.connected()
		return
	}
	st := c.th.Loop().Table().State(fd)
	if st&fdtable.ReadyW != 0 && c.Buffered() > 0 {
		c.flush()
		if c.flags&fClosed != 0 {
			return
		}
	}
	if st&fdtable.ReadyR != 0 && c.reading() {
		c.read()
	}
}

// connected finishes a non-blocking connect once the socket reports
// writable, confirming the result with SO_ERROR (and with getpeername,
// since a wake-up without a completed connect is possible).
func (c *Conn) connected() {
	soerr, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		c.closeNow(sysErr("connect", "getsockopt", err))
		return
	}
	if soerr != 0 {
		c.closeNow(sysErr("connect", "connect", unix.Errno(soerr)))
		return
	}
	if _, err := unix.Getpeername(c.fd); err == unix.ENOTCONN {
		c.th.FD().CantSend(c.fd)
		return
	}
	c.flags &^= fConnecting
	c.connDL = 0
	if c.Buffered() == 0 {
		c.th.FD().StopSend(c.fd)
	}
	c.open()
}

// read reads once into the thread's buffer and hands the bytes over.
// Level-triggered polling calls again while more is pending, which keeps
// one busy connection from starving the others.
func (c *Conn) read() {
	buf := c.ts.readBuf()
	n, err := unix.Read(c.fd, buf)
	switch {
	case err == unix.EAGAIN:
		c.th.FD().CantRecv(c.fd)
		return
	case err == unix.EINTR:
		return
	case err != nil:
		c.closeNow(sysErr("read", "read", err))
		return
	case n == 0:
		c.peerEOF()
		return
	}
	c.touch(true)
	c.depth++
	c.h.OnData(c, buf[:n])
	c.leave()
	if c.flags&fClosed == 0 && c.Buffered() > c.highWater && c.flags&fHWPaused == 0 {
		c.flags |= fHWPaused
		c.updateRecv()
	}
}

// peerEOF handles the peer's FIN.
func (c *Conn) peerEOF() {
	c.flags |= fEOF
	c.updateRecv()
	if c.eof == nil {
		c.closeWhenDrained(io.EOF)
		return
	}
	c.depth++
	c.eof.OnEOF(c)
	c.leave()
	c.maybeDone()
}

// maybeDone closes a connection whose both directions are finished.
func (c *Conn) maybeDone() {
	if c.flags&(fEOF|fShutW|fClosed) == fEOF|fShutW {
		c.closeNow(io.EOF)
	}
}

// touch records activity for the read and idle timeouts.
func (c *Conn) touch(read bool) {
	if c.idleTO > 0 {
		c.idleDL = c.deadline(c.idleTO)
	}
	if read && c.readTO > 0 {
		c.readDL = c.deadline(c.readTO)
	}
}

// Write sends p, keeping what the socket does not take at once in the
// output buffer, which is written when the socket is writable. It returns
// len(p) unless the connection is closed or shut for writing (ErrClosed)
// or the socket failed, in which case the connection is closed with that
// error.
func (c *Conn) Write(p []byte) (int, error) {
	if c.flags&(fClosed|fShutW|fShutWPending|fClosing|fCloseDeferred) != 0 {
		return 0, ErrClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	if c.Buffered() > 0 || c.flags&(fConnecting) != 0 || c.flags&fStarted == 0 {
		c.buffer(p)
		return len(p), nil
	}
	n, err := unix.Write(c.fd, p)
	if err != nil && err != unix.EAGAIN && err != unix.EINTR {
		err = sysErr("write", "write", err)
		c.closeNow(err)
		return 0, err
	}
	if n > 0 {
		c.touch(false)
	}
	if n = max(n, 0); n < len(p) {
		if err == unix.EAGAIN {
			c.th.FD().CantSend(c.fd)
		}
		c.buffer(p[n:])
		c.th.FD().WantSend(c.fd)
	}
	return len(p), nil
}

// buffer appends p to the output buffer, moving unwritten bytes to the
// front first when that makes room.
func (c *Conn) buffer(p []byte) {
	if c.Buffered() == 0 && c.writeTO > 0 && c.flags&fStarted != 0 {
		c.writeDL = c.deadline(c.writeTO)
		c.arm(c.writeDL)
	}
	if c.outOff > 0 && len(c.out)+len(p) > cap(c.out) {
		n := copy(c.out, c.out[c.outOff:])
		c.out = c.out[:n]
		c.outOff = 0
	}
	c.out = append(c.out, p...)
}

// flush writes buffered output; once all of it is written, it undoes the
// back-pressure, carries out a pending CloseWrite or Close and runs
// OnWritable.
func (c *Conn) flush() {
	for c.Buffered() > 0 {
		n, err := unix.Write(c.fd, c.out[c.outOff:])
		if err == unix.EAGAIN {
			c.th.FD().CantSend(c.fd)
			return
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			c.closeNow(sysErr("write", "write", err))
			return
		}
		c.outOff += n
		c.touch(false)
		if c.writeTO > 0 {
			c.writeDL = c.deadline(c.writeTO)
		}
	}
	c.out, c.outOff, c.writeDL = c.out[:0], 0, 0
	c.th.FD().StopSend(c.fd)
	if c.flags&fHWPaused != 0 {
		c.flags &^= fHWPaused
		c.updateRecv()
	}
	if c.flags&fShutWPending != 0 {
		c.flags &^= fShutWPending
		c.shutWrite()
		if c.flags&fClosed != 0 {
			return
		}
	}
	if c.flags&fClosing != 0 {
		c.closeNow(c.err)
		return
	}
	c.depth++
	c.h.OnWritable(c)
	c.leave()
}

// CloseWrite shuts the write side once the buffered output is written:
// the peer reads EOF while this side may still read. A connection whose
// peer has shut its side too is then closed with io.EOF.
func (c *Conn) CloseWrite() error {
	if c.flags&(fClosed|fClosing|fCloseDeferred) != 0 {
		return ErrClosed
	}
	if c.flags&(fShutW|fShutWPending) != 0 {
		return nil
	}
	c.stopAsync()
	if c.Buffered() > 0 || c.flags&(fConnecting) != 0 || c.flags&fStarted == 0 {
		c.flags |= fShutWPending
		return nil
	}
	c.shutWrite()
	return nil
}

func (c *Conn) shutWrite() {
	c.flags |= fShutW
	if err := unix.Shutdown(c.fd, unix.SHUT_WR); err != nil && err != unix.ENOTCONN {
		c.closeNow(sysErr("shutdown", "shutdown", err))
		return
	}
	c.maybeDone()
}

// Close closes the connection once its buffered output is written
// (bounded by the write timeout, if set); it reads nothing more. OnClose
// runs with a nil error.
func (c *Conn) Close() error {
	if c.flags&(fClosed|fClosing|fCloseDeferred) != 0 {
		return nil
	}
	c.closeWhenDrained(nil)
	return nil
}

func (c *Conn) closeWhenDrained(reason error) {
	c.stopAsync()
	if c.Buffered() == 0 || c.flags&fStarted == 0 {
		c.closeNow(reason)
		return
	}
	c.flags |= fClosing
	c.err = reason
	c.updateRecv()
}

// Abort closes the connection at once, dropping buffered output, and
// makes the kernel reset it (SO_LINGER with a zero timeout) rather than
// end it with a FIN. OnClose runs with a nil error.
func (c *Conn) Abort() error {
	if c.flags&fClosed != 0 {
		return nil
	}
	if c.flags&fStarted != 0 {
		c.th.Loop().Table().SetLingerRisk(c.fd)
	} else {
		unix.SetsockoptLinger(c.fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	}
	c.out, c.outOff = c.out[:0], 0
	c.closeNow(nil)
	return nil
}

// closeNow closes the fd and reports reason to OnClose, or, while a
// callback of this connection runs, when it returns.
func (c *Conn) closeNow(reason error) {
	if c.flags&fClosed != 0 {
		return
	}
	if c.depth > 0 {
		if c.flags&fCloseDeferred == 0 {
			c.flags |= fCloseDeferred
			c.err = reason
		}
		return
	}
	if c.flags&fStarted != 0 {
		c.th.FD().Delete(c.fd)
	} else {
		unix.Close(c.fd)
	}
	c.finish(reason)
}

// finish is the end of every connection: once its fd is closed, the
// timer goes, the counters drop and the handler is told.
func (c *Conn) finish(reason error) {
	c.flags |= fClosed
	c.ts.unlink(c)
	c.amu.Lock()
	c.closed.Store(true)
	c.async = nil
	c.amu.Unlock()
	if c.task != nil {
		c.th.Unqueue(c.task)
	}
	c.ts.conns.Add(-1)
	c.st.l.AddJobs(-1)
	c.h.OnClose(c, reason)
	c.out = nil
	c.st.release()
}

// AsyncWrite queues a copy of p for the connection and wakes its thread,
// which writes it as Write would. It is safe from any goroutine. It
// returns ErrClosed once the connection is closed or its write side shut
// (Close, CloseWrite, or an error); what it accepted before that is
// written out by a Close or CloseWrite, and lost only with the
// connection (Abort, an error, a timeout), which OnClose reports.
func (c *Conn) AsyncWrite(p []byte) error {
	c.amu.Lock()
	if c.closed.Load() {
		c.amu.Unlock()
		return ErrClosed
	}
	c.async = append(c.async, p...)
	wake := !c.asyncQueued
	c.asyncQueued = true
	if c.tl == nil {
		c.tl = c.st.l.NewTasklet(asyncFlush, c, c.th.ID())
	}
	tl := c.tl
	c.amu.Unlock()
	if wake {
		tl.Wakeup(nil)
	}
	return nil
}

// stopAsync makes AsyncWrite refuse from now on and moves what it queued
// into the output buffer, ahead of a Close or CloseWrite.
func (c *Conn) stopAsync() {
	c.amu.Lock()
	c.closed.Store(true)
	p := c.async
	c.async = nil
	c.amu.Unlock()
	if len(p) > 0 {
		c.buffer(p)
		if c.flags&(fStarted|fConnecting) == fStarted {
			c.th.FD().WantSend(c.fd)
		}
	}
}

// asyncFlush is a connection's tasklet: it writes what AsyncWrite queued.
func asyncFlush(_ *loop.Tasklet, ctx any, _ loop.State) {
	c := ctx.(*Conn)
	c.amu.Lock()
	p := c.async
	c.async = c.asyncSpare[:0]
	c.asyncQueued = false
	c.amu.Unlock()
	if c.flags&fClosed == 0 {
		c.Write(p)
	}
	c.amu.Lock()
	c.asyncSpare = p[:0]
	c.amu.Unlock()
}

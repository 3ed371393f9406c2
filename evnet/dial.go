package evnet

import (
	"time"

	"github.com/evpoll/evpoll/loop"
	"golang.org/x/sys/unix"
)

// Dial starts a non-blocking connect to addr on network ("tcp", "tcp4",
// "tcp6" or "unix") for a connection owned by th (nil: the least loaded
// thread). The result arrives on th: OnOpen once connected, or OnClose
// with the error (ECONNREFUSED, ErrConnectTimeout after timeout if
// timeout > 0, ...) without OnOpen. Dial itself fails only when the
// address is bad or no socket can be made. Safe from any goroutine; the
// returned Conn is for th's callbacks (and AsyncWrite).
func Dial(l *loop.Loop, th *loop.Thread, network, addr string, timeout time.Duration, h Handler) (*Conn, error) {
	if h == nil {
		return nil, ErrNoHandler
	}
	family, sa, err := resolve(network, addr)
	if err != nil {
		return nil, err
	}
	fd, err := newSocket(family)
	if err != nil {
		return nil, err
	}
	st, err := acquire(l)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	defer st.release() // the connection holds its own reference
	var ts *threadState
	if th == nil || th.Loop() != l {
		var next uint32
		ts = st.pick(l.AllThreads(), &next)
	} else {
		ts = st.threads[th.ID()]
	}
	c := newConn(st, ts, fd, h)
	c.sa, c.tcp = sa, family != unix.AF_UNIX
	c.connTO = toMS(timeout)
	if c.tcp {
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	switch err := unix.Connect(fd, sa); err {
	case nil:
	case unix.EINPROGRESS, unix.EINTR:
		c.flags |= fConnecting
	default:
		c.err = sysErr("dial "+network+" "+addr, "connect", err)
	}
	if !ts.handOff(c, nil) {
		c.discard()
		return nil, ErrLoopStopped
	}
	return c, nil
}

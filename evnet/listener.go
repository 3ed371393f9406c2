package evnet

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/evpoll/evpoll/loop"
	"github.com/evpoll/evpoll/poller"
	"golang.org/x/sys/unix"
)

// DefaultBacklog is the listen backlog used when Options.Backlog is 0.
const DefaultBacklog = 1024

// DefaultAcceptPause is how long a listener stops accepting after the
// process or the system ran out of file descriptors.
const DefaultAcceptPause = 100 * time.Millisecond

// acceptBudget bounds the connections accepted per listener callback, so
// that a flood of connections does not hold up the thread's other work.
const acceptBudget = 64

// Options configures a listener and the connections it accepts.
type Options struct {
	// Handler receives the events of every accepted connection. Required.
	Handler Handler
	// Backlog is the listen backlog; 0 means DefaultBacklog.
	Backlog int
	// ReusePort sets SO_REUSEPORT, so that several sockets (in this
	// process or others) can listen on the same address.
	ReusePort bool
	// Delay leaves Nagle's algorithm on for accepted TCP connections;
	// by default TCP_NODELAY is set.
	Delay bool
	// KeepAlive sets SO_KEEPALIVE on accepted TCP connections.
	KeepAlive bool
	// Thread is the id of the thread that accepts.
	Thread int
	// Threads is the mask of threads that serve accepted connections;
	// 0 means every thread of the loop.
	Threads uint64
	// AcceptPause is how long accepting stops after EMFILE, ENFILE,
	// ENOBUFS or ENOMEM; 0 means DefaultAcceptPause.
	AcceptPause time.Duration
	// HighWater is the accepted connections' high-water mark; 0 means
	// DefaultHighWater.
	HighWater int
	// ReadTimeout, WriteTimeout and IdleTimeout are the accepted
	// connections' timeouts (see Conn.SetReadTimeout and the others);
	// 0 means none.
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
}

// Listener accepts stream connections on one loop thread and spreads them
// over the loop's threads.
type Listener struct {
	st      *netState
	l       *loop.Loop
	th      *loop.Thread
	fd      int
	tcp     bool
	addr    net.Addr
	unlink  string
	opts    Options
	mask    uint64
	pauseMS int
	next    uint32
	task    *loop.Task
	sigh    *loop.SignalHandler // closes the listener on soft stop; under the thread's mu
	closed  atomic.Bool
	pauses  atomic.Uint64
}

// Listen opens a listening socket on network ("tcp", "tcp4", "tcp6" or
// "unix") and addr, with SO_REUSEADDR for TCP, and serves it on l. A
// Unix socket's file is removed when the listener closes.
func Listen(l *loop.Loop, network, addr string, opts Options) (*Listener, error) {
	if opts.Handler == nil {
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
	what := "listen " + network + " " + addr
	fail := func(call string, err error) (*Listener, error) {
		unix.Close(fd)
		return nil, sysErr(what, call, err)
	}
	if family != unix.AF_UNIX {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return fail("setsockopt", err)
		}
	}
	if opts.ReusePort {
		if err := setReusePort(fd); err != nil {
			return fail("setsockopt", err)
		}
	}
	if family == unix.AF_INET6 && network == "tcp6" {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			return fail("setsockopt", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	backlog := opts.Backlog
	if backlog <= 0 {
		backlog = DefaultBacklog
	}
	if err := unix.Listen(fd, backlog); err != nil {
		return fail("listen", err)
	}
	ln, err := serve(l, fd, opts)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	if family == unix.AF_UNIX {
		ln.unlink = addr
	}
	return ln, nil
}

// FileListener serves a duplicate of f's listening socket on l, for
// sockets inherited from a parent such as systemd; f stays the caller's
// to close. See AdoptListener.
func FileListener(l *loop.Loop, f *os.File, opts Options) (*Listener, error) {
	return AdoptListener(l, f, opts)
}

// AdoptListener serves a duplicate of the listening socket of sc (a
// *net.TCPListener, *net.UnixListener or *os.File) on l. The duplicate
// is made non-blocking, which the original shares; the original stays
// the caller's to close, and a listener made by the net package then
// also accepts from the same queue, so it should not be used any more.
func AdoptListener(l *loop.Loop, sc syscall.Conn, opts Options) (*Listener, error) {
	if opts.Handler == nil {
		return nil, ErrNoHandler
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("evnet: adopt listener: %w", err)
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) {
		fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, fmt.Errorf("evnet: adopt listener: %w", err)
	}
	if derr != nil {
		return nil, sysErr("adopt listener", "fcntl", derr)
	}
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil || typ != unix.SOCK_STREAM {
		unix.Close(fd)
		if err != nil {
			return nil, sysErr("adopt listener", "getsockopt", err)
		}
		return nil, ErrNotListener
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, sysErr("adopt listener", "fcntl", err)
	}
	ln, err := serve(l, fd, opts)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return ln, nil
}

// serve puts a listening fd in l's table for the accepting thread, counts
// it as a job and closes it on soft stop.
func serve(l *loop.Loop, fd int, opts Options) (*Listener, error) {
	threads := l.Threads()
	if opts.Thread < 0 || opts.Thread >= len(threads) {
		return nil, fmt.Errorf("evnet: Options.Thread %d: the loop has %d threads", opts.Thread, len(threads))
	}
	mask := opts.Threads & l.AllThreads()
	if mask == 0 {
		mask = l.AllThreads()
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, sysErr("listen", "getsockname", err)
	}
	_, isUnix := sa.(*unix.SockaddrUnix)
	pause := opts.AcceptPause
	if pause <= 0 {
		pause = DefaultAcceptPause
	}
	ln := &Listener{
		l: l, th: threads[opts.Thread], fd: fd, tcp: !isUnix, addr: toAddr(sa),
		opts: opts, mask: mask, pauseMS: toMS(pause),
	}
	ln.task = l.NewTask(resumeAccept, ln, ln.th.Bit())
	if ln.st, err = acquire(l); err != nil {
		return nil, err
	}
	ts := ln.st.threads[opts.Thread]
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.stopped {
		ln.st.release()
		return nil, ErrLoopStopped
	}
	if err := l.Table().External().Insert(fd, ln, acceptIO, ln.th.Bit()); err != nil {
		ln.st.release()
		return nil, fmt.Errorf("evnet: listen: %w", err)
	}
	// Soft stop raises signal 0, which closes the listener; Close removes
	// the handler again. The handler may run before ln.sigh is set: its
	// Close then waits for ts.mu, held until then.
	sigh, err := l.AddSignalHandler(0, func(syscall.Signal, int) { ln.Close() })
	if err != nil {
		l.Table().External().Delete(fd)
		ln.st.release()
		return nil, fmt.Errorf("evnet: listen: %w", err)
	}
	ln.sigh = sigh
	ts.lns = append(ts.lns, ln)
	l.AddJobs(1)
	l.Table().External().WantRecv(fd)
	return ln, nil
}

// Addr returns the address the listener is bound to.
func (ln *Listener) Addr() net.Addr { return ln.addr }

// Pauses returns how many times accepting was paused for lack of file
// descriptors or memory.
func (ln *Listener) Pauses() uint64 { return ln.pauses.Load() }

// Close stops accepting and closes the listening socket; connections
// already accepted are not affected. Safe from any goroutine; soft stop
// calls it.
func (ln *Listener) Close() error {
	if ln.closed.Swap(true) {
		return nil
	}
	err := ln.l.Table().External().Delete(ln.fd)
	ln.task.Kill()
	ts := ln.st.threads[ln.th.ID()]
	ts.mu.Lock()
	if i := slices.Index(ts.lns, ln); i >= 0 {
		ts.lns = slices.Delete(ts.lns, i, i+1)
	}
	ln.sigh.Remove()
	ts.mu.Unlock()
	if ln.unlink != "" {
		os.Remove(ln.unlink)
	}
	ln.l.AddJobs(-1)
	ln.st.release()
	if err != nil {
		return fmt.Errorf("evnet: close listener: %w", err)
	}
	return nil
}

// acceptAction says what to do after accept failed with err.
type acceptAction int

const (
	acceptStop  acceptAction = iota // nothing more to accept now
	acceptRetry                     // this connection failed, try the next
	acceptPause                     // out of resources: pause with a timer
)

func classifyAccept(err error) acceptAction {
	switch {
	case errors.Is(err, unix.EAGAIN):
		return acceptStop
	case errors.Is(err, unix.EINTR), errors.Is(err, unix.ECONNABORTED),
		errors.Is(err, unix.EPROTO), errors.Is(err, unix.EPERM):
		return acceptRetry
	}
	// EMFILE, ENFILE, ENOBUFS, ENOMEM, and anything unexpected: retrying
	// at once would spin on the same error.
	return acceptPause
}

// acceptIO is the listener's fd callback, on the accepting thread.
func acceptIO(fd int, owner any) {
	ln := owner.(*Listener)
	for range acceptBudget {
		cfd, sa, err := accept(fd)
		if err != nil {
			switch classifyAccept(err) {
			case acceptStop:
				ln.th.FD().CantRecv(fd)
				return
			case acceptPause:
				ln.pause()
				return
			}
			continue
		}
		if ln.tcp {
			if !ln.opts.Delay {
				unix.SetsockoptInt(cfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
			}
			if ln.opts.KeepAlive {
				unix.SetsockoptInt(cfd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
			}
		}
		ts := ln.st.pick(ln.mask, &ln.next)
		c := newConn(ln.st, ts, cfd, ln.opts.Handler)
		c.sa, c.tcp = sa, ln.tcp
		c.SetHighWater(ln.opts.HighWater)
		c.readTO, c.writeTO, c.idleTO = toMS(ln.opts.ReadTimeout), toMS(ln.opts.WriteTimeout), toMS(ln.opts.IdleTimeout)
		if c.readTO > 0 {
			c.readDL = ln.th.Now().Add(c.readTO)
		}
		if !ts.handOff(c, ln.th) {
			c.discard()
		}
	}
}

// pause stops accepting for the pause interval (HAProxy: limit_listener
// with a task to resume it).
func (ln *Listener) pause() {
	ln.pauses.Add(1)
	ln.th.FD().StopRecv(ln.fd)
	ln.th.Schedule(ln.task, ln.th.Now().Add(ln.pauseMS))
}

// resumeAccept is the listener's timer task: accepting starts again.
func resumeAccept(t *loop.Task, ctx any, _ loop.State) bool {
	ln := ctx.(*Listener)
	if ln.closed.Load() {
		return false
	}
	if t.Expire().IsSet() && !t.Expire().IsExpired(t.Thread().Now()) {
		return true
	}
	t.Thread().FD().WantRecv(ln.fd)
	t.SetExpire(poller.Eternity)
	return true
}

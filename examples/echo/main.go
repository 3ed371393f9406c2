package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/loop"
	"github.com/evpoll/evpoll/poller"
	_ "github.com/evpoll/evpoll/pollers" // every backend of this OS
	"golang.org/x/sys/unix"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is the whole program; it returns the exit status: 0 after a soft or
// hard stop, 1 on a run-time error, 2 on a bad flag.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "TCP `address` to listen on")
	threads := fs.Int("threads", 0, "number of polling threads (0: GOMAXPROCS)")
	backend := fs.String("poller", "", "polling `backend` to use (default: the best available)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "echo: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *threads < 0 || *threads > fdtable.MaxThreads {
		fmt.Fprintf(stderr, "echo: -threads %d: want 0..%d\n", *threads, fdtable.MaxThreads)
		return 2
	}
	cfg := loop.Config{Threads: *threads}
	if *backend != "" {
		b, err := poller.Lookup(*backend)
		if err != nil {
			fmt.Fprintf(stderr, "echo: -poller: %v\n", err)
			return 2
		}
		cfg.Backend = &b
		if b.Name == "select" {
			// select cannot watch fds at or above FD_SETSIZE.
			cfg.Table = fdtable.New(1024)
		}
	}
	lfd, bound, err := listen(*addr)
	if err != nil {
		fmt.Fprintf(stderr, "echo: -addr %s: %v\n", *addr, err)
		return 2
	}
	srv, err := newServer(cfg, lfd)
	if err != nil {
		unix.Close(lfd)
		fmt.Fprintf(stderr, "echo: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "listening on %s\n", bound)
	if f, ok := stdout.(*os.File); ok {
		f.Sync()
	}
	srv.stderr = stderr
	if err := srv.l.Run(); err != nil {
		fmt.Fprintf(stderr, "echo: %v\n", err)
		return 1
	}
	return 0
}

// listen opens a non-blocking listening socket on addr and returns it with
// the address it is bound to.
func listen(addr string) (int, string, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return -1, "", err
	}
	var sa unix.Sockaddr
	family := unix.AF_INET
	if ip4 := ta.IP.To4(); ip4 != nil || ta.IP == nil {
		s := &unix.SockaddrInet4{Port: ta.Port}
		copy(s.Addr[:], ip4)
		sa = s
	} else {
		family = unix.AF_INET6
		s := &unix.SockaddrInet6{Port: ta.Port}
		copy(s.Addr[:], ta.IP.To16())
		sa = s
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM, 0)
	if err != nil {
		return -1, "", os.NewSyscallError("socket", err)
	}
	fail := func(call string, err error) (int, string, error) {
		unix.Close(fd)
		return -1, "", os.NewSyscallError(call, err)
	}
	unix.CloseOnExec(fd)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fail("setsockopt", err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	if err := unix.Listen(fd, 1024); err != nil {
		return fail("listen", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return fail("fcntl", err)
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	switch s := got.(type) {
	case *unix.SockaddrInet4:
		return fd, net.JoinHostPort(net.IP(s.Addr[:]).String(), strconv.Itoa(s.Port)), nil
	case *unix.SockaddrInet6:
		return fd, net.JoinHostPort(net.IP(s.Addr[:]).String(), strconv.Itoa(s.Port)), nil
	}
	return fail("getsockname", errors.New("unexpected address family"))
}

// server is the echo server: a listener on thread 0 that hands accepted
// connections to the threads in turn through per-thread accept queues.
type server struct {
	l      *loop.Loop
	lfd    int
	next   int
	queues []*acceptQueue
	stderr io.Writer
}

// acceptQueue holds fds accepted on thread 0 for one thread, which takes
// them from a tasklet (HAProxy's per-thread accept queue).
type acceptQueue struct {
	mu  sync.Mutex
	fds []int
	tl  *loop.Tasklet
	th  *loop.Thread
}

func newServer(cfg loop.Config, lfd int) (*server, error) {
	l, err := loop.New(cfg)
	if err != nil {
		return nil, err
	}
	s := &server{l: l, lfd: lfd}
	for _, th := range l.Threads() {
		q := &acceptQueue{th: th}
		q.tl = l.NewTasklet(s.takeConns, q, th.ID())
		s.queues = append(s.queues, q)
	}
	th0 := l.Threads()[0]
	if err := th0.FD().Insert(lfd, th0, s.accept, th0.Bit()); err != nil {
		l.Close()
		return nil, err
	}
	th0.FD().WantRecv(lfd)
	l.AddJobs(1) // the listener
	l.HandleSignal(syscall.SIGUSR1, func(syscall.Signal, int) { l.SoftStop() })
	l.HandleSignal(0, func(syscall.Signal, int) { s.closeListener(th0) })
	hard := func(syscall.Signal, int) { l.Kill(); l.Kill() }
	l.HandleSignal(syscall.SIGTERM, hard)
	l.HandleSignal(syscall.SIGINT, hard)
	l.HandleSignal(syscall.SIGHUP, func(syscall.Signal, int) { l.WriteActivity(s.stderr, 0) })
	l.HandleSignal(syscall.SIGPIPE, func(syscall.Signal, int) {})
	return s, nil
}

// closeListener runs on soft stop: new connections are refused from now
// on, open ones keep working.
func (s *server) closeListener(th0 *loop.Thread) {
	if s.lfd < 0 {
		return
	}
	th0.FD().Delete(s.lfd)
	s.lfd = -1
	s.l.AddJobs(-1)
}

// accept is the listener's fd callback, on thread 0.
func (s *server) accept(fd int, owner any) {
	th0 := owner.(*loop.Thread)
	for range 64 {
		cfd, _, err := unix.Accept(fd)
		if err != nil {
			if err == unix.EAGAIN {
				th0.FD().CantRecv(fd)
			}
			return
		}
		unix.CloseOnExec(cfd)
		if unix.SetNonblock(cfd, true) != nil {
			unix.Close(cfd)
			continue
		}
		s.l.AddJobs(1)
		q := s.queues[s.next]
		s.next = (s.next + 1) % len(s.queues)
		q.mu.Lock()
		q.fds = append(q.fds, cfd)
		q.mu.Unlock()
		q.tl.Wakeup(th0)
	}
}

// conn is one client connection, served by one thread.
type conn struct {
	s       *server
	th      *fdtable.Thread
	buf     [16 << 10]byte
	pending []byte
}

// takeConns is a thread's accept-queue tasklet: the connections handed to
// it are put in the table for this thread and wanted for reading.
func (s *server) takeConns(tl *loop.Tasklet, ctx any, _ loop.State) {
	q := ctx.(*acceptQueue)
	q.mu.Lock()
	fds := q.fds
	q.fds = nil
	q.mu.Unlock()
	th := q.th
	for _, fd := range fds {
		c := &conn{s: s, th: th.FD()}
		if err := c.th.Insert(fd, c, serve, th.Bit()); err != nil {
			unix.Close(fd)
			s.l.AddJobs(-1)
			continue
		}
		th.Activity().Accepted.Add(1)
		c.th.WantRecv(fd)
	}
}

// serve is a connection's fd callback: echo what arrives; when the peer
// does not take it all, stop reading until the rest is written.
func serve(fd int, owner any) {
	c := owner.(*conn)
	if len(c.pending) > 0 {
		n, err := unix.Write(fd, c.pending)
		if err == unix.EAGAIN {
			c.th.CantSend(fd)
			return
		}
		if err != nil {
			c.close(fd)
			return
		}
		c.pending = c.pending[n:]
		if len(c.pending) > 0 {
			return
		}
		c.th.StopSend(fd)
		c.th.WantRecv(fd)
	}
	n, err := unix.Read(fd, c.buf[:])
	if err == unix.EAGAIN {
		c.th.CantRecv(fd)
		return
	}
	if n <= 0 || err != nil {
		c.close(fd)
		return
	}
	w, err := unix.Write(fd, c.buf[:n])
	if err != nil && err != unix.EAGAIN {
		c.close(fd)
		return
	}
	w = max(w, 0)
	if w < n {
		c.pending = c.buf[w:n]
		c.th.StopRecv(fd)
		c.th.WantSend(fd)
	}
}

func (c *conn) close(fd int) {
	c.th.Delete(fd)
	c.s.l.AddJobs(-1)
}

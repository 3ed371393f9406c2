package chain

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	"golang.org/x/sys/unix"
)

// Baseline is the name under which the runtime netpoller runs.
const Baseline = "netpoll"

// Runner runs rounds of the workload.
type Runner interface {
	// Round runs one round and returns the number of callbacks it took.
	Round() (int, error)
	// Close releases every fd and goroutine.
	Close() error
}

// Config is one point of the sweep.
type Config struct {
	FDs    int // registered fds (FDs/2 socket pairs, both ends registered)
	Active int // fds made readable at the start of a round
	Writes int // chained writes per round
}

func (c Config) validate() error {
	switch {
	case c.FDs < 2 || c.FDs%2 != 0:
		return fmt.Errorf("chain: fds=%d: need an even number >= 2", c.FDs)
	case c.Active < 1 || c.Active > c.FDs:
		return fmt.Errorf("chain: active=%d: need 1..fds (%d)", c.Active, c.FDs)
	case c.Writes < 0:
		return fmt.Errorf("chain: writes=%d: must not be negative", c.Writes)
	}
	return nil
}

// pairs opens n/2 non-blocking socket pairs and returns the fds in order
// and each fd's peer, indexed by fd.
func pairs(n int) (fds []int, peer []int, err error) {
	for len(fds) < n {
		p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err != nil {
			closeAll(fds)
			return nil, nil, fmt.Errorf("chain: %d fds: %w (raise the fd limit?)", n, os.NewSyscallError("socketpair", err))
		}
		for _, fd := range p {
			unix.CloseOnExec(fd)
			unix.SetNonblock(fd, true)
		}
		fds = append(fds, p[0], p[1])
	}
	max := 0
	for _, fd := range fds {
		if fd > max {
			max = fd
		}
	}
	peer = make([]int, max+1)
	for i := 0; i < len(fds); i += 2 {
		peer[fds[i]], peer[fds[i+1]] = fds[i+1], fds[i]
	}
	return fds, peer, nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// evRunner drives one evpoll backend instance.
type evRunner struct {
	cfg    Config
	tab    *fdtable.Table
	th     *fdtable.Thread
	ctx    *poller.Context
	p      poller.Poller
	fds    []int
	peer   []int // fd -> peer fd
	next   []int // fd -> next fd in the chain
	writes int
	fired  int
	buf    [1]byte
}

// New sets up the workload on backend be.
func New(be poller.Backend, cfg Config) (Runner, error) {
	err := cfg.validate()
	if err != nil {
		return nil, err
	}
	// A table with room to spare, or, for a backend that refuses it
	// (select and FD_SETSIZE), the largest one it accepts; fds that do
	// not fit are then refused by Insert below.
	var tab *fdtable.Table
	for _, size := range []int{cfg.FDs + 1024, 1024} {
		tab = fdtable.New(size)
		if be.Test == nil {
			break
		}
		if err = be.Test(tab); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("chain: backend %s cannot serve %d fds: %w", be.Name, cfg.FDs, err)
	}
	th, err := tab.NewThread(0)
	if err != nil {
		return nil, err
	}
	ctx := poller.NewContext(th)
	p, err := be.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("chain: backend %s: %w", be.Name, err)
	}
	r := &evRunner{cfg: cfg, tab: tab, th: th, ctx: ctx, p: p}
	r.fds, r.peer, err = pairs(cfg.FDs)
	if err != nil {
		p.Term()
		return nil, err
	}
	r.next = make([]int, len(r.peer))
	for i, fd := range r.fds {
		r.next[fd] = r.fds[(i+1)%len(r.fds)]
	}
	for _, fd := range r.fds {
		if err := th.Insert(fd, r, iocb, th.Bit()); err != nil {
			r.Close()
			return nil, fmt.Errorf("chain: backend %s: %w", be.Name, err)
		}
		th.WantRecv(fd)
		th.CantRecv(fd)
	}
	if err := p.Poll(poller.Eternity, true); err != nil {
		r.Close()
		return nil, fmt.Errorf("chain: backend %s: %w", be.Name, err)
	}
	return r, nil
}

func iocb(fd int, owner any) {
	r := owner.(*evRunner)
	unix.Read(fd, r.buf[:])
	r.fired++
	if r.writes > 0 {
		r.writes--
		unix.Write(r.peer[r.next[fd]], r.buf[:])
	}
}

// roundTimeout bounds a round that stopped making progress.
const roundTimeout = 10 * time.Second

func (r *evRunner) Round() (int, error) {
	r.fired = 0
	r.writes = r.cfg.Writes
	space := len(r.fds) / r.cfg.Active
	for k := 0; k < r.cfg.Active; k++ {
		unix.Write(r.peer[r.fds[k*space]], r.buf[:])
	}
	want := r.cfg.Active + r.cfg.Writes
	var start time.Time
	for idle := 0; r.fired < want; {
		before := r.fired
		if err := r.p.Poll(r.ctx.UpdateTime().Add(100), false); err != nil {
			return r.fired, err
		}
		if r.fired == before {
			if idle == 0 {
				start = time.Now()
			}
			idle++
			if time.Since(start) > roundTimeout {
				return r.fired, fmt.Errorf("chain: round stalled at %d of %d events", r.fired, want)
			}
		} else {
			idle = 0
		}
	}
	return r.fired, nil
}

func (r *evRunner) Close() error {
	err := r.p.Term()
	for _, fd := range r.fds {
		if r.tab.IsOpen(fd) {
			r.th.Remove(fd)
		}
	}
	closeAll(r.fds)
	r.fds = nil
	return err
}

// netRunner is the baseline: one goroutine per fd blocked in Read on a
// net.Conn, so Go's runtime netpoller does the polling.
type netRunner struct {
	cfg    Config
	conns  []net.Conn
	next   []int // conn index -> index of the next conn in the chain
	peerOf []int // conn index -> index of its peer
	writes atomic.Int64
	fired  atomic.Int64
	done   chan struct{}
	want   atomic.Int64
	timer  *time.Timer
	wg     sync.WaitGroup
}

// NewBaseline sets up the workload on Go's runtime netpoller.
func NewBaseline(cfg Config) (Runner, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	fds, _, err := pairs(cfg.FDs)
	if err != nil {
		return nil, err
	}
	r := &netRunner{cfg: cfg, done: make(chan struct{}, 1)}
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "chain")
		c, err := net.FileConn(f)
		f.Close() // FileConn dups the fd
		if err != nil {
			closeAll(fds[i+1:])
			r.Close()
			return nil, fmt.Errorf("chain: baseline: %w", err)
		}
		r.conns = append(r.conns, c)
	}
	n := len(r.conns)
	r.next = make([]int, n)
	r.peerOf = make([]int, n)
	for i := range r.conns {
		r.next[i] = (i + 1) % n
		r.peerOf[i] = i ^ 1
	}
	for i := range r.conns {
		r.wg.Add(1)
		go r.reader(i)
	}
	return r, nil
}

func (r *netRunner) reader(i int) {
	defer r.wg.Done()
	var buf [1]byte
	c := r.conns[i]
	out := r.conns[r.peerOf[r.next[i]]]
	for {
		if _, err := c.Read(buf[:]); err != nil {
			return
		}
		if r.writes.Add(-1) >= 0 {
			out.Write(buf[:])
		}
		if r.fired.Add(1) == r.want.Load() {
			r.done <- struct{}{}
		}
	}
}

func (r *netRunner) Round() (int, error) {
	r.fired.Store(0)
	r.want.Store(int64(r.cfg.Active + r.cfg.Writes))
	r.writes.Store(int64(r.cfg.Writes))
	space := len(r.conns) / r.cfg.Active
	var b [1]byte
	for k := 0; k < r.cfg.Active; k++ {
		r.conns[r.peerOf[k*space]].Write(b[:])
	}
	if r.timer == nil {
		r.timer = time.NewTimer(roundTimeout)
	} else {
		r.timer.Reset(roundTimeout)
	}
	select {
	case <-r.done:
		r.timer.Stop()
		return int(r.fired.Load()), nil
	case <-r.timer.C:
		return int(r.fired.Load()), errors.New("chain: baseline round stalled")
	}
}

func (r *netRunner) Close() error {
	for _, c := range r.conns {
		c.Close()
	}
	r.wg.Wait()
	return nil
}

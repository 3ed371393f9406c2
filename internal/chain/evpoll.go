package chain

import (
	"fmt"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	"golang.org/x/sys/unix"
)

// evRunner drives one evpoll backend instance.
type evRunner struct {
	cfg    Config
	name   string
	tab    *fdtable.Table
	th     *fdtable.Thread
	ctx    *poller.Context
	p      poller.Poller
	c      *chans
	buf    []byte
	writes int
	fired  int
	counts Counts
}

var _ Counter = (*evRunner)(nil)

// ErrBackendTest wraps the error of a backend's Test when it refuses the
// table a point needs (select and FD_SETSIZE, for instance): the point is
// beyond what the backend can serve, which is not a failure of the run.
type ErrBackendTest struct {
	Backend string
	MaxFD   int // the highest fd the point opened
	Err     error
}

// Error names the backend and the fd it could not watch.
func (e *ErrBackendTest) Error() string {
	return fmt.Sprintf("chain: backend %s cannot watch fd %d: %v", e.Backend, e.MaxFD, e.Err)
}

// Unwrap returns the backend's Test error.
func (e *ErrBackendTest) Unwrap() error { return e.Err }

// New sets up the workload on backend be. When be's Test refuses a table
// that holds the point's fds, the error is an [*ErrBackendTest].
func New(be poller.Backend, cfg Config) (Runner, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c, err := open(cfg)
	if err != nil {
		return nil, err
	}
	// A table with room to spare, or, for a backend that refuses it
	// (select and FD_SETSIZE), the smallest one that holds the fds.
	var tab *fdtable.Table
	for _, size := range []int{c.maxFD + 1 + 1024, c.maxFD + 1} {
		tab = fdtable.New(size)
		if be.Test == nil {
			break
		}
		if err = be.Test(tab); err == nil {
			break
		}
	}
	if err != nil {
		c.close()
		return nil, &ErrBackendTest{Backend: be.Name, MaxFD: c.maxFD, Err: err}
	}
	th, err := tab.NewThread(0)
	if err != nil {
		c.close()
		return nil, fmt.Errorf("chain: backend %s: %w", be.Name, err)
	}
	ctx := poller.NewContext(th)
	p, err := be.New(ctx)
	if err != nil {
		c.close()
		return nil, fmt.Errorf("chain: backend %s: %w", be.Name, err)
	}
	r := &evRunner{cfg: cfg, name: be.Name, tab: tab, th: th, ctx: ctx, p: p, c: c, buf: make([]byte, len(c.msg))}
	for _, fd := range c.fds {
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
	unix.Read(fd, r.buf)
	r.fired++
	if r.writes > 0 {
		r.writes--
		unix.Write(r.c.out[fd], r.c.msg)
	}
}

func (r *evRunner) Round() (int, error) {
	r.fired = 0
	r.writes = r.cfg.Writes
	r.c.kick(r.cfg.Active)
	want := r.cfg.Active + r.cfg.Writes
	var id idle
	for r.fired < want {
		before := r.fired
		r.counts.Waits++
		if err := r.p.Poll(r.ctx.UpdateTime().Add(waitMs), false); err != nil {
			r.counts.add(r.cfg, r.fired, r.writes)
			return r.fired, fmt.Errorf("chain: backend %s: %w", r.name, err)
		}
		if id.progress(r.fired != before) {
			r.counts.add(r.cfg, r.fired, r.writes)
			return r.fired, stallError(r.name, r.fired, want)
		}
	}
	r.counts.add(r.cfg, r.fired, r.writes)
	return r.fired, nil
}

// Counts counts Poll calls as waits.
func (r *evRunner) Counts() Counts { return r.counts }

func (r *evRunner) Close() error {
	err := r.p.Close()
	for _, fd := range r.c.fds {
		if r.tab.Info(fd).Open {
			r.th.Remove(fd)
		}
	}
	r.c.close()
	return err
}

package conformance

import (
	"strings"
	"sync"
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	"golang.org/x/sys/unix"
)

// naiveFault is a bug of the naive backend, for checks whose target
// cannot be broken from around the real epoll backend.
type naiveFault int

const (
	naiveCorrect    naiveFault = iota
	naiveCurrentGen            // dispatches with the fd's current generation, not the registration's
	naiveOnce                  // reports a registration once, then never again (edge-triggered in secret)
)

// naive is a deliberately simple poll(2) backend: a map of registrations
// under a mutex, rebuilt into a pollfd array every cycle.
type naive struct {
	ctx    *poller.Context
	detach func() bool
	f      naiveFault
	mu     sync.Mutex
	regs   map[int]naiveReg
	pfds   []unix.PollFd
	gens   []uint32
}

type naiveReg struct {
	events int16
	gen    uint32
	spent  bool // naiveOnce: reported already
}

func naiveBackend(f naiveFault) poller.Backend {
	return poller.Backend{
		Name:       "naive-poll",
		Preference: 1,
		New: func(ctx *poller.Context) (poller.Poller, error) {
			n := &naive{ctx: ctx, f: f, regs: map[int]naiveReg{}}
			detach, err := ctx.Thread.Attach(n)
			n.detach = detach
			return n, err
		},
	}
}

func (n *naive) UpdateFD(u fdtable.Update) {
	var ev int16
	if u.Ours && u.State&fdtable.ActiveR != 0 {
		ev |= unix.POLLIN
	}
	if u.Ours && u.State&fdtable.ActiveW != 0 {
		ev |= unix.POLLOUT
	}
	n.mu.Lock()
	if ev == 0 {
		delete(n.regs, u.FD)
	} else {
		n.regs[u.FD] = naiveReg{events: ev, gen: u.Gen}
	}
	n.mu.Unlock()
	n.ctx.Table.SetPolled(u.FD, n.ctx.Thread.ID(), ev&unix.POLLIN != 0, ev&unix.POLLOUT != 0)
}

func (n *naive) KernelWait(ms int) (int, error) {
	nr, err := unix.Poll(n.pfds, ms)
	if err != nil {
		return 0, err
	}
	return nr, nil
}

func (n *naive) Poll(exp poller.Tick, wake bool) error {
	th := n.ctx.Thread
	defer th.EndDispatch()
	th.DrainUpdates(n, true)
	n.mu.Lock()
	n.pfds, n.gens = n.pfds[:0], n.gens[:0]
	for fd, r := range n.regs {
		if !r.spent {
			n.pfds = append(n.pfds, unix.PollFd{Fd: int32(fd), Events: r.events})
			n.gens = append(n.gens, r.gen)
		}
	}
	n.mu.Unlock()
	nr, err := n.ctx.Wait(n, exp, wake, false)
	if err != nil || nr == 0 {
		return err
	}
	for i, pf := range n.pfds {
		if pf.Revents == 0 {
			continue
		}
		fd := int(pf.Fd)
		var evts fdtable.State
		if pf.Revents&unix.POLLIN != 0 {
			evts |= fdtable.ReadyR
		}
		if pf.Revents&unix.POLLOUT != 0 {
			evts |= fdtable.ReadyW
		}
		if pf.Revents&(unix.POLLERR|unix.POLLNVAL) != 0 {
			evts |= fdtable.ErrRW
		}
		if pf.Revents&unix.POLLHUP != 0 {
			evts |= fdtable.ShutR | fdtable.ShutW
		}
		gen := n.gens[i]
		if n.f == naiveCurrentGen {
			gen = n.ctx.Table.Info(fd).Gen
		}
		if n.f == naiveOnce {
			n.mu.Lock()
			if r, ok := n.regs[fd]; ok && r.gen == n.gens[i] {
				r.spent = true
				n.regs[fd] = r
			}
			n.mu.Unlock()
		}
		if th.Dispatch(fd, gen, evts) != fdtable.Delivered {
			n.mu.Lock()
			if r, ok := n.regs[fd]; ok && r.gen == n.gens[i] {
				delete(n.regs, fd)
			}
			n.mu.Unlock()
			n.ctx.Table.SetPolled(fd, th.ID(), false, false)
		}
	}
	return nil
}

func (n *naive) Closing(fd int, _ uint32, _ bool) {
	n.mu.Lock()
	delete(n.regs, fd)
	n.mu.Unlock()
}

func (n *naive) Fork() error         { return nil }
func (n *naive) Flags() poller.Flags { return 0 }
func (n *naive) Close() error {
	n.detach()
	n.mu.Lock()
	clear(n.regs)
	n.mu.Unlock()
	return nil
}

// TestSuiteCatchesBrokenNaiveBackends: the checks whose bug cannot be
// injected around epoll catch it in a small poll(2) backend that passes
// them when written correctly.
func TestSuiteCatchesBrokenNaiveBackends(t *testing.T) {
	for _, tc := range []struct {
		f     naiveFault
		name  string
		check string
	}{
		{naiveCurrentGen, "CurrentGeneration", "ReinsertWhileDispatching"},
		{naiveOnce, "ReportsOnce", "ReadyRemarked"},
	} {
		t.Run(tc.name+"/"+tc.check, func(t *testing.T) {
			if r := runCheck(t, tc.check, naiveBackend(naiveCorrect)); r.failed || r.skipped {
				t.Fatalf("correct naive backend does not pass %s: %s", tc.check, strings.Join(r.msgs, "; "))
			}
			r := runCheck(t, tc.check, naiveBackend(tc.f))
			if r.skipped || !r.failed {
				t.Fatalf("%s did not fail on a backend that %s: %s", tc.check, tc.name, strings.Join(r.msgs, "; "))
			}
		})
	}
}

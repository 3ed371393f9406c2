package poller_test

import (
	"errors"
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	"golang.org/x/sys/unix"
)

type forkPoller struct {
	forkErr      error
	forks, terms int
	clonedAtFork bool
	tab          *fdtable.Table
	fd           int
}

func (p *forkPoller) Poll(poller.Tick, bool) error { return nil }
func (p *forkPoller) Closing(int, uint32, bool)    {}
func (p *forkPoller) Flags() poller.Flags          { return 0 }
func (p *forkPoller) Close() error                 { p.terms++; return nil }
func (p *forkPoller) Fork() error {
	p.forks++
	p.clonedAtFork = p.tab.Info(p.fd).Cloned
	return p.forkErr
}

func forkEnv(t *testing.T, forkErr error) (*poller.Context, *forkPoller) {
	t.Helper()
	tab := fdtable.New(1024)
	th, err := tab.NewThread(0)
	if err != nil {
		t.Fatal(err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	if err := th.Insert(fds[0], nil, nil, th.Bit()); err != nil {
		t.Fatal(err)
	}
	return poller.NewContext(th), &forkPoller{forkErr: forkErr, tab: tab, fd: fds[0]}
}

// TestForkMarksClonedFirst: H68 — every open fd is cloned before the
// backend's Fork runs.
func TestForkMarksClonedFirst(t *testing.T) {
	ctx, p := forkEnv(t, nil)
	if err := poller.Fork(ctx, p); err != nil {
		t.Fatalf("Fork: %v", err)
	}
	if p.forks != 1 || !p.clonedAtFork {
		t.Errorf("forks = %d, cloned when Fork ran = %v; want 1, true", p.forks, p.clonedAtFork)
	}
	if p.terms != 0 {
		t.Errorf("Term called %d times after a successful fork", p.terms)
	}
}

// TestForkFailureTerminates: H69 with Q9 fixed — a failing fork hook
// terminates the poller and the error is returned.
func TestForkFailureTerminates(t *testing.T) {
	boom := errors.New("boom")
	ctx, p := forkEnv(t, boom)
	err := poller.Fork(ctx, p)
	if !errors.Is(err, boom) {
		t.Fatalf("Fork = %v, want it to wrap the hook's error", err)
	}
	if p.terms != 1 {
		t.Errorf("Term called %d times after a failed fork, want 1", p.terms)
	}
}

package epoll_test

import (
	"testing"
	"time"

	"github.com/evpoll/evpoll/poller"
	"golang.org/x/sys/unix"
)

// TestAddAfterDupIsRepaired: a registration the kernel still holds for the
// same fd number and file (the file outlived its fd through a dup, then
// came back at that number) makes EPOLL_CTL_ADD fail with EEXIST; the
// backend retries as MOD with the new generation and events reach the new
// owner.
func TestAddAfterDupIsRepaired(t *testing.T) {
	e := newEnv(t)
	d, err := unix.Dup(e.a)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(d)
	if err := e.th.Delete(e.a); err != nil { // closes a; the file lives on in d
		t.Fatal(err)
	}
	if err := unix.Dup3(d, e.a, unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	hits := 0
	if err := e.th.Insert(e.a, nil, func(fd int, _ any) {
		hits++
		var b [8]byte
		unix.Read(fd, b[:])
	}, e.th.Bit()); err != nil {
		t.Fatal(err)
	}
	e.th.WantRecv(e.a)
	if err := e.p.Poll(poller.Eternity, true); err != nil {
		t.Fatalf("Poll after re-adding a still-registered file: %v, want the EEXIST repaired", err)
	}
	unix.Write(e.b, []byte{1})
	for i := 0; i < 5 && hits == 0; i++ {
		if err := e.p.Poll(e.ctx.UpdateTime().Add(50), false); err != nil {
			t.Fatal(err)
		}
	}
	if hits != 1 {
		t.Errorf("new owner got %d calls, want 1", hits)
	}
	if got := e.ctx.Activity.PollStaleFD.Load(); got != 0 {
		t.Errorf("poll_stale_fd = %d: the MOD must carry the new generation", got)
	}
}

// TestModOfForgottenFDIsRepaired: the kernel dropped a registration behind
// the table's back (the fd was closed directly and its number reused), so
// EPOLL_CTL_MOD fails with ENOENT; the backend retries as ADD.
func TestModOfForgottenFDIsRepaired(t *testing.T) {
	e := newEnv(t)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	// Replace the file behind fd a without telling the table.
	if err := unix.Dup3(fds[0], e.a, unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	unix.Close(fds[0])
	unix.Close(e.b)
	e.b = fds[1]
	e.th.WantSend(e.a) // MOD of a registration the kernel no longer has
	if err := e.p.Poll(poller.Eternity, true); err != nil {
		t.Fatalf("Poll: %v, want the ENOENT repaired", err)
	}
	regs, err := e.p.Registered()
	if err != nil {
		t.Fatal(err)
	}
	if len(regs) != 1 || regs[0].FD != e.a || !regs[0].Recv || !regs[0].Send {
		t.Errorf("kernel registrations = %+v, want fd %d for reading and writing", regs, e.a)
	}
}

// TestZombieRegistrationDoesNotSpin: a registered file closed through the
// table while a dup keeps it open stays in the epoll set (epoll tracks
// files, not fd numbers) and, being readable, would be reported on every
// cycle (libuv #4323). The instance notices the same dead registration on
// consecutive cycles, rebuilds itself from the polled masks, and the
// cycles after that wait for their timeout again.
func TestZombieRegistrationDoesNotSpin(t *testing.T) {
	e := newEnv(t)
	d, err := unix.Dup(e.a)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(d)
	if err := e.th.Delete(e.a); err != nil { // not cloned: no DEL before close
		t.Fatal(err)
	}
	unix.Write(e.b, []byte("x"))
	for i := 0; i < 5; i++ {
		if err := e.p.Poll(e.ctx.UpdateTime().Add(50), false); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.p.Rebuilds(); got != 1 {
		t.Fatalf("Rebuilds = %d, want 1", got)
	}
	if got := e.ctx.Activity.PollDeadFD.Load(); got != 3 {
		t.Errorf("poll_dead_fd = %d, want 3 (the cycles before the rebuild)", got)
	}
	regs, err := e.p.Registered()
	if err != nil {
		t.Fatal(err)
	}
	if len(regs) != 0 {
		t.Errorf("registrations after the rebuild = %+v, want none", regs)
	}
	start := time.Now()
	if err := e.p.Poll(e.ctx.UpdateTime().Add(50), false); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 50*time.Millisecond {
		t.Errorf("a cycle after the rebuild returned after %v, before its 50 ms timer", el)
	}
}

// TestDeadEventsFromChurnDoNotRebuild: an fd deleted by another fd's
// callback in the same batch yields one dead event, once; a dead event
// on every cycle from such ordinary churn never triggers a rebuild.
func TestDeadEventsFromChurnDoNotRebuild(t *testing.T) {
	e := newEnv(t)
	pair := func() [2]int {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		return [2]int{fds[0], fds[1]}
	}
	for round := 0; round < 6; round++ {
		killer, victim := pair(), pair()
		e.th.Insert(victim[0], nil, func(int, any) {}, e.th.Bit())
		e.th.Insert(killer[0], nil, func(fd int, _ any) {
			e.th.Delete(victim[0])
			e.th.Delete(fd)
		}, e.th.Bit())
		for _, fd := range []int{victim[0], killer[0]} {
			e.th.WantRecv(fd)
			e.th.CantRecv(fd)
		}
		if err := e.p.Poll(poller.Eternity, true); err != nil {
			t.Fatal(err)
		}
		// The killer becomes ready first, so it comes first in the batch.
		unix.Write(killer[1], []byte("x"))
		unix.Write(victim[1], []byte("x"))
		if err := e.p.Poll(e.ctx.UpdateTime().Add(50), false); err != nil {
			t.Fatal(err)
		}
		unix.Close(killer[1])
		unix.Close(victim[1])
	}
	if got := e.ctx.Activity.PollDeadFD.Load(); got != 6 {
		t.Fatalf("poll_dead_fd = %d, want one per round (6)", got)
	}
	if got := e.p.Rebuilds(); got != 0 {
		t.Errorf("Rebuilds = %d after ordinary closes, want 0", got)
	}
}

package epoll_test

import (
	"testing"

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

package fdtable_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"golang.org/x/sys/unix"
)

// TestDeleteFromOwnIOCB: an iocb may delete its own fd (running on self).
func TestDeleteFromOwnIOCB(t *testing.T) {
	e := newEnv(t, 0)
	var delErr error
	if err := e.th[0].Insert(e.fd, nil, func(fd int, _ any) { delErr = e.sp.delete(e.th[0]) }, 0x1); err != nil {
		t.Fatal(err)
	}
	e.do("WantRecv", e.th[0].WantRecv)
	done := make(chan bool)
	go func() { done <- e.th[0].UpdateEvents(e.fd, fdtable.ReadyR) }()
	select {
	case called := <-done:
		if !called || delErr != nil {
			t.Errorf("called=%v delete error %v", called, delErr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Delete from the fd's own iocb deadlocked")
	}
	if !fdIsClosed(e.fd) || e.tab.IsOpen(e.fd) {
		t.Error("fd not deleted")
	}
}

// TestDeleteDefersCloseToRunningIOCB: Delete from another thread while an
// iocb runs on the fd returns at once (it would deadlock if that iocb
// waited for the deleting thread), the fd leaves the table at once, and it
// is closed only when the running iocb returns, so the iocb never works on
// a closed or reused fd number.
func TestDeleteDefersCloseToRunningIOCB(t *testing.T) {
	e := newEnv(t, 0)
	entered, release := make(chan struct{}), make(chan struct{})
	var closedInside atomic.Bool
	if err := e.th[0].Insert(e.fd, nil, func(fd int, _ any) {
		close(entered)
		<-release
		closedInside.Store(fdIsClosed(fd))
	}, 0x3); err != nil {
		t.Fatal(err)
	}
	e.do("WantRecv", e.th[0].WantRecv)
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.th[0].UpdateEvents(e.fd, fdtable.ReadyR)
	}()
	<-entered
	deleted := make(chan error, 1)
	go func() { deleted <- e.sp.delete(e.th[1]) }()
	select {
	case err := <-deleted:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("Delete waited for the iocb running on another thread")
	}
	if e.tab.IsOpen(e.fd) || e.tab.Used() != 0 {
		t.Error("fd still in the table after Delete returned")
	}
	if fdIsClosed(e.fd) {
		t.Error("fd closed while its iocb was still running")
	}
	if err := e.th[1].Insert(e.fd, nil, nil, 0x2); !errors.Is(err, fdtable.ErrInUse) {
		t.Errorf("Insert during the deferred close: %v, want ErrInUse", err)
	}
	close(release)
	<-done
	if closedInside.Load() {
		t.Error("iocb saw its fd closed while running")
	}
	if !fdIsClosed(e.fd) {
		t.Error("fd not closed after the last iocb returned")
	}
}

// TestCrossDeleteFromIOCBs: two threads each run an iocb that deletes the
// fd the other one is running. Waiting for the other's iocb would deadlock
// both; both Deletes must return and both fds end closed.
func TestCrossDeleteFromIOCBs(t *testing.T) {
	tab, ths := newTable(t, 2)
	var fds [2]int
	for i := range fds {
		p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(p[1]) })
		fds[i] = p[0]
	}
	var both sync.WaitGroup
	both.Add(2)
	errs := make([]error, 2)
	for i := range fds {
		if err := ths[i].Insert(fds[i], i, func(fd int, owner any) {
			me := owner.(int)
			both.Done()
			both.Wait() // both iocbs are running now
			errs[me] = ths[me].Delete(fds[1-me])
		}, uint64(1)<<i); err != nil {
			t.Fatal(err)
		}
		if err := ths[i].WantRecv(fds[i]); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{}, 2)
	for i := range fds {
		go func() {
			ths[i].UpdateEvents(fds[i], fdtable.ReadyR)
			done <- struct{}{}
		}()
	}
	for range 2 {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("iocbs deleting each other's fd deadlocked")
		}
	}
	for i, fd := range fds {
		if errs[i] != nil {
			t.Errorf("Delete from iocb %d: %v", i, errs[i])
		}
		if !fdIsClosed(fd) || tab.IsOpen(fd) {
			t.Errorf("fd %d not deleted and closed", fd)
		}
	}
}

// TestStrings checks the "show fd" renderings.
func TestStrings(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{fdtable.State(0x23).String(), "0x23(R:RA W:Ra)"},
		{fdtable.State(0).String(), "0x00(R:ra W:ra)"},
		{fdtable.State(0x33).String(), "0x33(R:RA W:RA)"},
		{fdtable.State(0x01).String(), "0x01(R:rA W:ra)"},
		// conditions last reported, and events: SHUT and ERR shown too
		{(fdtable.ShutR | fdtable.ReadyR).String(), "0x06(R:Ra W:ra S:Rw)"},
		{(fdtable.ErrRW | fdtable.ShutR | fdtable.ShutW).String(), "0xc4(R:ra W:ra S:RW E)"},
		{(fdtable.ErrRW | fdtable.ReadyW | fdtable.ActiveW).String(), "0xb0(R:ra W:RA E)"},
		{fdtable.ShutW.String(), "0x40(R:ra W:ra S:rW)"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

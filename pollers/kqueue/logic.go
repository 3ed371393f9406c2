//go:build darwin || freebsd || netbsd || openbsd || dragonfly || linux

package kqueue

import (
	"syscall"
	"time"

	"github.com/evpoll/evpoll/fdtable"
)

// Changes appends to dst the changes that bring this thread's registration
// of fd from the polled directions (pollR, pollS) to the wanted ones, and
// returns the new polled directions (HAProxy: _update_fd in ev_kqueue.c).
// An fd that is not ours or wanted in no direction loses its filters; else
// each direction is added when wanted and not polled, deleted when polled
// and not wanted. Unlike HAProxy, only filters that are registered are
// deleted, so that no change fails with ENOENT. kqueue has no sticky-read
// rule. Additions carry gen in udata.
func Changes(dst []Kevent, fd int, gen uint32, st fdtable.State, ours, pollR, pollS bool) ([]Kevent, bool, bool) {
	wantR, wantS := st&fdtable.ActiveR != 0, st&fdtable.ActiveW != 0
	if !ours {
		wantR, wantS = false, false
	}
	dst = change(dst, fd, gen, FilterRead, wantR, pollR)
	dst = change(dst, fd, gen, FilterWrite, wantS, pollS)
	return dst, wantR, wantS
}

func change(dst []Kevent, fd int, gen uint32, f Filter, want, polled bool) []Kevent {
	switch {
	case want && !polled:
		return append(dst, Kevent{Ident: uint64(fd), Filter: f, Flags: EvAdd, Udata: uint64(gen)})
	case !want && polled:
		return append(dst, Kevent{Ident: uint64(fd), Filter: f, Flags: EvDelete})
	}
	return dst
}

// Deletes appends the changes removing every filter polled for fd.
func Deletes(dst []Kevent, fd int, pollR, pollS bool) []Kevent {
	dst = change(dst, fd, 0, FilterRead, false, pollR)
	return change(dst, fd, 0, FilterWrite, false, pollS)
}

// Translate converts a returned event into FD_EV_* bits (HAProxy 2.2's
// _do_poll in ev_kqueue.c): a read event makes the fd readable when it
// carries data or no EOF (a read filter with EOF and no data is only the
// peer's shutdown; with data, the data comes first), EOF on it is SHUT_R;
// a write event makes it writable, and EOF on the write side means the fd
// can no longer send: ERR_RW.
func Translate(ev *Kevent) fdtable.State {
	var s fdtable.State
	eof := ev.Flags&EvEOF != 0
	switch ev.Filter {
	case FilterRead:
		if ev.Data > 0 || !eof {
			s |= fdtable.ReadyR
		}
		if eof {
			s |= fdtable.ShutR
		}
	case FilterWrite:
		s |= fdtable.ReadyW
		if eof {
			s |= fdtable.ErrRW
		}
	}
	return s
}

// Outcome of one change, as ChangeResult decides it.
type Outcome struct {
	// Registered: the filter is registered after the change.
	Registered bool
	// Events to deliver to the fd's owner now (0 for none).
	Events fdtable.State
	// Failed: the change was refused; the owner gets an error event.
	Failed bool
}

// ChangeResult decides what a change's result means, errno being 0 for
// success (the Data of an EV_ERROR result). Deleting a filter the kernel
// no longer has (ENOENT, or EBADF once the fd is closed) is success: the
// kernel removes an fd's filters when it is closed. On macOS, adding a
// filter for a pipe or socket whose peer is already gone fails with EPIPE,
// yet the filter is registered and reports EOF later (mio #584): that is
// the peer-closed event, so it is delivered as such, not as an error. Any
// other failure leaves the filter unregistered and is reported.
func ChangeResult(ch *Kevent, errno syscall.Errno) Outcome {
	add := ch.Flags&EvAdd != 0
	switch {
	case errno == 0:
		return Outcome{Registered: add}
	case !add && (errno == syscall.ENOENT || errno == syscall.EBADF):
		return Outcome{}
	case add && errno == syscall.EPIPE:
		eof := Kevent{Filter: ch.Filter, Flags: EvEOF}
		return Outcome{Registered: true, Events: Translate(&eof)}
	}
	return Outcome{Failed: true}
}

// MaxTimeout caps a kernel wait: darwin fails kevent with EINVAL for
// timeouts of about 10^8 seconds and more; Go's runtime caps its own at
// 10^6 seconds, and so does this backend.
const MaxTimeout = 1e6 * time.Second

// Timeout converts a wait in milliseconds (negative: no limit) into
// kevent's timeout, capped at MaxTimeout.
func Timeout(ms int) time.Duration {
	if ms < 0 {
		return -1
	}
	if ms >= int(MaxTimeout/time.Millisecond) {
		return MaxTimeout
	}
	return time.Duration(ms) * time.Millisecond
}

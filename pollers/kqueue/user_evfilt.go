//go:build darwin || freebsd || dragonfly

package kqueue

import "golang.org/x/sys/unix"

// hasUserFilter: the Waker uses EVFILT_USER.
const hasUserFilter = true

const sysFilterUser = unix.EVFILT_USER

var _ = [1]int{}[unix.NOTE_TRIGGER^int(NoteTrigger)]

// Trigger fires the user event ident. Its change lives on this
// goroutine's stack, not in the queue's buffers, so it may run while the
// owner waits; its udata is nil.
func (q *sysQueue) Trigger(ident uint64) error {
	ch := []unix.Kevent_t{{Filter: unix.EVFILT_USER, Fflags: unix.NOTE_TRIGGER}}
	setUint(&ch[0].Ident, ident)
	_, err := unix.Kevent(q.fd, ch, nil, nil)
	return err
}

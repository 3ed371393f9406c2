//go:build netbsd || openbsd

package kqueue

import "golang.org/x/sys/unix"

// hasUserFilter: false, the Waker uses a pipe (x/sys has no EVFILT_USER
// here, and OpenBSD had none until recently).
const hasUserFilter = false

// sysFilterUser is never passed to the kernel (toSysFilter refuses it).
const sysFilterUser = -1000

// Trigger is not available without EVFILT_USER.
func (q *sysQueue) Trigger(uint64) error { return unix.ENOTSUP }

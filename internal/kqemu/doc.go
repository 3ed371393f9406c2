// Package kqemu is an emulation of kqueue(2) on Linux, built on epoll: a
// small semantic model of the kernel interface the kqueue backend uses
// (pollers/kqueue.Kernel), so that the backend's whole logic, and the
// conformance suite over it, run on Linux. It is test support only; the
// registry never sees it.
//
// What it models, after kqueue(2) on FreeBSD:
//   - per-filter registrations (knotes) keyed by ident and filter, for
//     EVFILT_READ and EVFILT_WRITE on fds and EVFILT_USER on identifiers;
//   - EV_ADD on an existing knote updates it (udata, flags), EV_DELETE of
//     an absent one fails with ENOENT, changes on a closed fd with EBADF;
//   - closing an fd removes its knotes, even when another descriptor
//     (a dup) keeps the file open;
//   - level-triggered read and write filters; a read event's data is the
//     number of bytes readable; EV_EOF on the read filter when the peer
//     shut its write side, on the write filter when the fd can no longer
//     send (hangup, error);
//   - EV_ONESHOT, and EV_CLEAR and NOTE_TRIGGER for EVFILT_USER;
//   - per-change results: a change that fails, or carries EV_RECEIPT,
//     gets an EV_ERROR entry (data = errno, 0 for success) in the event
//     list, and then no events are collected; with no room for it the
//     call fails with that errno;
//   - udata is carried back unchanged;
//   - a queue is not inherited across fork: Getpid can be overridden to
//     play the child, and queues refuse calls from another "process".
//
// It does not model EV_ENABLE/EV_DISABLE, EV_DISPATCH, other filters, or
// fflags on fd filters (they fail with EINVAL), and it keeps no knote for
// a filter of an fd whose number was reused by a dup of the same file.
package kqemu

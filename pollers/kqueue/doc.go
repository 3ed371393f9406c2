// Package kqueue implements poller.Poller with kqueue(2), after HAProxy's
// ev_kqueue.c, for macOS, FreeBSD, NetBSD, OpenBSD and DragonFly.
//
// Each thread gets its own kqueue. Changes are computed from the update
// lists per filter (EVFILT_READ, EVFILT_WRITE), only where what a thread
// wants and what it has registered differ, and submitted together with
// the wait in one kevent call; when they must be applied alone (more than
// the event buffer holds, or at the end of a cycle) every change carries
// EV_RECEIPT, so the kernel reports one result per change and consumes no
// pending event. Events are translated as HAProxy 2.2 does: a read event
// with data, or without EV_EOF, is READY_R, EV_EOF on it is SHUT_R; a write
// event is READY_W, with EV_EOF it is ERR_RW. FlagRDHUP is static. udata
// carries the fd's fdtable generation, so an event for a reused fd number
// is dropped and counted, never delivered to the new user. An fd that
// migrated to another thread has its filters deleted when its next event
// arrives (HAProxy only counts it). A change the kernel refuses for one fd
// does not fail Poll: that fd's owner gets an error event. EPIPE when
// adding a filter (macOS, for a peer already gone) is the peer-closed
// event it announces, not an error.
//
// Closing an fd removes its filters from every kqueue, so the close hook
// acts only for fds removed from the table but kept open. Fork creates a
// new kqueue and re-applies every registration of the thread; kqueues are
// not inherited by a child, so the old number is not closed there.
// [Waker] is the cross-thread wake-up for a run loop: EVFILT_USER where
// the OS has it, a pipe on NetBSD and OpenBSD.
//
// The backend works on its own plain [Kevent] structs behind the [Kernel]
// seam; [System] converts them to x/sys's. The package also builds on
// Linux, without registering itself, so that its whole logic runs there
// over an emulation of kqueue built on epoll (the tests, labelled
// "emulated"); the syscalls themselves are only compile-checked there.
//
// Importing the package on a kqueue system registers the backend as
// "kqueue" with preference 300. [New] builds an instance directly.
package kqueue

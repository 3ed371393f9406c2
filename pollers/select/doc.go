// Package selectpoll implements poller.Poller with select(2). Its import
// path ends in "select", a Go keyword, hence the package name.
//
// It follows HAProxy's ev_select.c, with per-thread state and two fixes.
// Each thread's instance keeps its own fd_sets of the fds that thread owns
// and wants, instead of HAProxy's sets shared by all threads, and
// acknowledges its updates per thread; so instances never share mutable
// state. An fd that moved to another thread is dropped by the instance
// that no longer owns it, and counted in poll_skip_fd, at its next event
// or update. The highest registered fd (select's first argument) is kept
// up to date incrementally, and shrinks when the top fds leave.
//
// Where it differs from HAProxy 2.2's ev_select.c: only fds with events are
// reported, never their neighbours in the same fd_set word (HAProxy walks
// whole words and can report an fd that had no event), and the thread's
// sleeping bit is cleared after the kernel wait, as HAProxy's select does. Every registration records the fdtable generation of its fd, so
// an event for a previous user of the same fd number is dropped
// (poll_stale_fd), never delivered. An fd closed behind the table's back
// makes select fail with EBADF; the instance then finds the fds select
// refuses, reports them to their owners as errors (ERR_RW), counts them in
// poll_dead_fd, and never watches those generations of them again.
//
// select cannot watch fds at or above FD_SETSIZE (1024 on most systems, 256
// on NetBSD): the backend's Test and [New] fail for tables that can hold
// such fds, and an fd that would be registered beyond the limit anyway is
// refused with [ErrFDSetSize], never written past the fd_set: Poll returns
// the error, naming the fd, and the fd's owner gets an ERR_RW event.
// Registrations are level-triggered, for reading and writing only: select
// reports no hangup, error or peer shutdown, so the instance's flags are 0
// and upper layers must check sockets themselves. Busy polling is ignored,
// as in HAProxy. At most the context's MaxEvents ready fds are dispatched
// per cycle; the next cycle resumes after the last one dispatched.
//
// Importing the package registers the backend as "select" with preference
// 150. [New] builds an instance directly, without the registry.
package selectpoll

// Package poll implements poller.Poller with poll(2).
//
// It follows HAProxy's ev_poll.c with three fixes and one change of model.
// Each thread's instance keeps its own pollfd array holding only the fds
// that thread owns and wants, instead of HAProxy's bitmaps shared by all
// threads, and acknowledges its updates per thread; so instances never
// share mutable state. Ownership is checked when an fd is added and on
// each of its events and updates: an fd that moved to another thread is
// dropped by the instance that no longer owns it, and counted in
// poll_skip_fd, at its next event or update (as epoll does; HAProxy's
// rebuild skips it on every cycle instead).
//
// The array is maintained incrementally (one entry per registered fd, an
// index per fd, removal by swapping the last entry into the hole) rather
// than rebuilt from bitmaps on every cycle: producing the array for a
// cycle costs nothing and allocates nothing (BenchmarkArray compares it
// with rebuilding).
//
// Where it differs from HAProxy 2.2's ev_poll.c: the thread's sleeping bit
// is cleared after the kernel wait, not before it (HAProxy clears it before
// and can miss a wake-up); POLLNVAL, which HAProxy ignores, is
// reported to the fd's owner as an error (ERR_RW) and counted in
// poll_dead_fd, and that generation of the fd is dropped from the array and
// never added back, so that a closed but still listed fd cannot make every
// later poll return at once; and every entry records the fdtable
// generation of the fd it was registered for, so an event for a previous
// user of the same fd number is dropped (poll_stale_fd), never delivered.
//
// Registrations follow HAProxy 2.2's poll backend: level-triggered,
// POLLIN|POLLRDHUP while the fd is active for reading, POLLOUT while it is
// active for writing, and lazy stop (an fd nobody wants any more is only
// dropped once the kernel reports an event for it). The instance has
// poller.FlagERRHUP, and gains poller.FlagRDHUP the first time the kernel
// reports POLLRDHUP (Linux and FreeBSD only; elsewhere POLLRDHUP does not
// exist and the flag is never set). Busy polling is ignored, as in HAProxy.
// At most the context's MaxEvents ready fds are dispatched per cycle; the
// next cycle resumes after the last one dispatched, so none starves.
//
// Importing the package registers the backend as "poll" with preference
// 200. [New] builds an instance directly, without the registry.
package poll

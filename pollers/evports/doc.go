// Package evports implements poller.Poller with Solaris and illumos event
// ports (port_create(3C), port_associate(3C), port_getn(3C)), after
// HAProxy's ev_evports.c.
//
// Each thread gets its own port. An fd is associated with POLLIN for
// reading and POLLOUT for writing. Associations are one-shot: retrieving
// an fd's event dissociates it, so after the callback the fd is
// associated again with the directions it wanted before the callback,
// unless the callback closed it, it migrated to another thread, or it no
// longer wants anything; a change the callback made to what the fd wants
// is applied by the update list next cycle. Unlike HAProxy, an fd whose
// wanted directions did not change costs no port_associate call, since
// the association of a polled fd is always live. Events are translated as
// HAProxy does: POLLIN is READY_R, POLLOUT READY_W, POLLHUP SHUT_RW,
// POLLERR ERR_RW; event ports report no half-close, so the backend never
// has FlagRDHUP. port_getn's ETIME is a timeout, and events retrieved with
// it are handled. The association's user value carries the fd's fdtable
// generation, so an event for a reused fd number is dropped and counted.
// An association refused for one fd does not fail Poll: that fd's owner
// gets an error event.
//
// Closing an fd dissociates it, so the close hook acts only for fds
// removed from the table but kept open. Fork closes the port, creates a
// new one and re-associates every fd of the thread. [Waker] is the
// cross-thread wake-up for a run loop: a pipe associated with the port.
//
// The backend works on its own plain [PortEvent] structs behind the
// [Kernel] seam; [System] is x/sys's EventPort. The package also builds
// on Linux, without registering itself, so that its whole logic runs there
// over an emulation of event ports built on epoll (the tests, labelled
// "emulated"); the system calls themselves are only compile-checked there.
//
// Importing the package on illumos or Solaris registers the backend as
// "evports" with preference 300. [New] builds an instance directly.
package evports

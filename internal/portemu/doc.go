// Package portemu is an emulation of Solaris and illumos event ports on
// Linux, built on epoll: a small semantic model of the kernel interface
// the evports backend uses (pollers/evports.Kernel), so that the backend's
// whole logic, and the conformance suite over it, run on Linux. It is
// test support only; the registry never sees it.
//
// What it models, after port_associate(3C) and port_getn(3C), for
// PORT_SOURCE_FD:
//   - associating an fd with poll(2) events and a user value; associating
//     it again replaces both; an fd that is not open fails with EBADF;
//   - associations are one-shot: retrieving the event dissociates the fd
//     (epoll's EPOLLONESHOT, plus the bookkeeping), and dissociating an fd
//     with no association fails with ENOENT;
//   - closing an fd dissociates it, even when another descriptor (a dup)
//     keeps the file open;
//   - events are poll(2) bits: POLLIN, POLLOUT as asked, POLLERR and
//     POLLHUP always; a peer's shutdown is POLLIN (readable EOF), as event
//     ports report no half-close;
//   - port_getn waits for at least one event; when the timeout expires
//     first it fails with ETIME, and events retrieved meanwhile (none
//     here, as one is enough) are returned with it; the user value is
//     carried back unchanged.
//
// It does not model other event sources (PORT_SOURCE_USER, timers,
// files) or port_getn's nget greater than one.
package portemu

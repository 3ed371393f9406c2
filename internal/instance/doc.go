// Package instance holds what every backend instance built here except
// epoll keeps the same way (kqueue, event ports, and poll and select
// through package userset): the thread it serves, its attachment to that
// thread in the fd table (fdtable.Thread.Attach, redone after a fork), its
// closed flag and the counters the conformance suite reads. A backend
// embeds Base and keeps only what its kernel interface needs.
package instance

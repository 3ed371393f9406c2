// Package instance holds what every backend instance keeps the same way
// (epoll, kqueue, event ports, and poll and select through package
// userset): the thread it serves, its attachment to that thread in the fd
// table (fdtable.Thread.Attach, redone after a fork), its closed flag, the
// counters the conformance suite reads and the counting of events
// Dispatch did not deliver. A backend embeds Base and keeps only what its
// kernel interface needs.
package instance

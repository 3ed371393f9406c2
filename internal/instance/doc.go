// Package instance holds what every kernel-object backend instance (kqueue,
// event ports) keeps the same way: the thread it serves, its attachment to
// that thread in the fd table (fdtable.Thread.Attach, redone after a fork),
// its closed flag and the counters the conformance suite reads. A backend
// embeds Base and keeps only what its kernel interface needs.
package instance

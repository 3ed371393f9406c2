//go:build darwin || freebsd || netbsd || openbsd || dragonfly || linux

package kqueue

import "time"

// Kevent is one kevent(2) change or event in plain Go types. The x/sys
// struct (unix.Kevent_t) has different field types on every BSD; the
// backend works on this one and the system file converts at the syscall.
type Kevent struct {
	Ident  uint64 // the fd, or the user event's identifier
	Filter Filter
	Flags  Flag
	Fflags uint32
	Data   int64  // bytes readable (EVFILT_READ); errno in an EV_ERROR result
	Udata  uint64 // carried back unchanged: the fd's generation
}

// Filter is a kevent filter, with values of our own: the system file maps
// them to each OS's EVFILT_* numbers, which differ.
type Filter int16

// Filters the backend uses.
const (
	FilterRead  Filter = 1 // EVFILT_READ
	FilterWrite Filter = 2 // EVFILT_WRITE
	FilterUser  Filter = 3 // EVFILT_USER (darwin, freebsd, dragonfly)
)

// Flag holds kevent flags. The values are the ones every BSD uses; the
// system files check them against x/sys at compile time.
type Flag uint16

// Kevent flags (EV_*).
const (
	EvAdd     Flag = 0x0001
	EvDelete  Flag = 0x0002
	EvOneshot Flag = 0x0010
	EvClear   Flag = 0x0020
	EvReceipt Flag = 0x0040
	EvError   Flag = 0x4000
	EvEOF     Flag = 0x8000
)

// NoteTrigger is the fflags bit that fires an EVFILT_USER event.
const NoteTrigger uint32 = 0x01000000

// Kernel is the seam between the backend and the operating system: the
// kqueue(2) calls the backend makes. On the BSDs and macOS it is the
// system itself (System); on Linux the tests use an emulation.
type Kernel interface {
	// Kqueue creates a kernel event queue.
	Kqueue() (Queue, error)
	// Getpid returns the calling process's id; Fork compares it with
	// the creator's to know whether the old queue is still this
	// process's.
	Getpid() int
}

// Queue is one kernel event queue.
type Queue interface {
	// Kevent is kevent(2): it applies changes, then (unless a change
	// reported a result into events, see kqueue(2)) collects up to
	// len(events) events, waiting at most timeout (negative: no limit).
	// Errors are syscall.Errno values. Only the polling goroutine calls
	// it.
	Kevent(changes, events []Kevent, timeout time.Duration) (int, error)
	// Trigger fires the EVFILT_USER event ident (NOTE_TRIGGER). It may be
	// called from any goroutine.
	Trigger(ident uint64) error
	// FD is the queue's descriptor.
	FD() int
	// Close closes the queue and releases its resources.
	Close() error
	// Release releases the user-space resources without closing the
	// descriptor: after fork the number is not this process's queue.
	Release()
}

// Lister is implemented by queues that can list their registrations (the
// emulation can; the BSD kernels offer no portable way). The backend's
// poller.Introspector reads it.
type Lister interface {
	Knotes() []Kevent
}

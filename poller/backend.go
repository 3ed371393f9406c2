package poller

import (
	"strconv"

	"github.com/evpoll/evpoll/fdtable"
)

// Flags are a backend's capabilities (HAProxy's HAP_POLL_F_*).
type Flags uint32

const (
	// FlagRDHUP: the backend reports "peer closed its write side"
	// together with read readiness. epoll and poll gain it dynamically,
	// the first time the kernel is seen reporting it.
	FlagRDHUP Flags = 1 << iota
	// FlagERRHUP: the backend reports error and hangup conditions.
	FlagERRHUP
	// FlagFork: the backend owns kernel objects that Fork re-creates.
	FlagFork
	// FlagBusyPoll: the backend honours Context.BusyPolling.
	FlagBusyPoll
)

// String lists the flag names, such as "RDHUP|ERRHUP"; bits without a name
// are shown in hexadecimal ("RDHUP|0x100"), and no flag as "0".
func (f Flags) String() string {
	if f == 0 {
		return "0"
	}
	s := ""
	for _, n := range []struct {
		f Flags
		s string
	}{{FlagRDHUP, "RDHUP"}, {FlagERRHUP, "ERRHUP"}, {FlagFork, "FORK"}, {FlagBusyPoll, "BUSYPOLL"}} {
		if f&n.f != 0 {
			if s != "" {
				s += "|"
			}
			s += n.s
			f &^= n.f
		}
	}
	if f != 0 {
		if s != "" {
			s += "|"
		}
		s += "0x" + strconv.FormatUint(uint64(f), 16)
	}
	return s
}

// Backend is a polling backend's registration record (HAProxy's struct
// poller, without the per-instance parts).
type Backend struct {
	// Name is the backend's unique name, such as "epoll".
	Name string
	// Preference orders the backends: higher is tried first; 0 means
	// disabled (HAProxy's pref).
	Preference int
	// Flags are the capabilities the backend declares statically.
	Flags Flags
	// Test is a cheap check that the backend can serve tab (HAProxy's
	// test); nil means always usable. It is used for the listing; Open
	// relies on New alone.
	Test func(tab *fdtable.Table) error
	// New initialises one thread's instance (HAProxy's init plus the
	// per-thread init). It must release everything it opened when it
	// fails.
	New func(ctx *Context) (Poller, error)
}

// Poller is one thread's instance of a backend. Its constructor
// (Backend.New) attaches it to its thread with fdtable.Thread.Attach, which
// makes it the instance whose Closing the table calls for that thread and
// hands it every fd the thread already owns and wants.
//
// Poll runs one cycle (HAProxy's _do_poll) on the thread's goroutine: it
// applies the pending updates of both update lists
// (fdtable.Thread.DrainUpdates), waits until exp (a tick, Eternity for "no
// timer") or not at all when wake is true, through Context.Wait, and
// reports each event with fdtable.Thread.Dispatch, passing the generation
// the registration was tagged with; it defers fdtable.Thread.EndDispatch
// first, so that an iocb that panics or exits its goroutine leaves no fd
// marked as running. It returns an error only when the
// kernel object itself fails; an interrupted wait is retried, and a
// registration the kernel refuses for one fd is that fd's failure:
// reported with Context.FailFD, its owner gets an error event. Poll
// returns ErrClosed after Close.
//
// Closing is the instance's fdtable.Updater.Closing: Delete and Remove call it
// on their own goroutine, which may be any, with the fd locked, for every
// thread whose polled bits say it watches the fd. It must not block, and
// must remove the kernel registration when told to deregister; a backend
// whose registrations live in user space may queue the removal for its
// next cycle.
//
// Fork, called on the thread's goroutine in a child process (through
// the package's Fork function), re-creates the instance's kernel objects,
// closes the inherited ones it may close, and registers every fd the
// thread wants on the new ones. A backend with no kernel object returns
// nil. An error leaves the instance unusable: the caller terminates it.
//
// Close releases everything the instance holds and detaches it from its
// thread (the detach function fdtable.Thread.Attach returned), unless a newer instance replaced it
// there. It is idempotent. Call it on the thread's goroutine, or once that
// goroutine no longer polls.
//
// Flags returns the instance's current capabilities, which may grow
// (FlagRDHUP is added when first seen). It is safe from any goroutine.
//
// The multi-thread contract every backend keeps, checked by the
// conformance suite:
//   - a new instance registers, at its first cycle, every fd its thread
//     already owns and wants;
//   - after Delete or Remove of an fd returns on any goroutine, the
//     instance does not register that fd again, and whatever the kernel
//     still reports for it is dropped and never delivered;
//   - an event for one generation of an fd is never delivered to the next
//     one;
//   - Close of an instance that a newer one on the same thread replaced
//     leaves the newer one alone.
type Poller interface {
	Poll(exp Tick, wake bool) error
	Closing(fd int, gen uint32, deregister bool)
	Fork() error
	Close() error
	Flags() Flags
}

// Registration is one fd's registration as the kernel reports it.
type Registration struct {
	FD         int
	Recv, Send bool
	// Gen is the generation the registration was tagged with, if the
	// backend records one.
	Gen uint32
}

// Introspector is implemented by pollers that can read back from the
// kernel (not from their own bookkeeping) what they have registered. The
// conformance suite compares it with the polled masks.
type Introspector interface {
	Registered() ([]Registration, error)
}

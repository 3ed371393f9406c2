//go:build solaris || linux

package evports

import "time"

// PortEvent is one event retrieved from a port (a PORT_SOURCE_FD
// port_event_t) in plain Go types.
type PortEvent struct {
	FD     int
	Events int16  // poll(2) bits that occurred
	User   uint64 // carried back unchanged: the fd's generation
}

// Poll bits with the values of Solaris and illumos (checked against x/sys
// at compile time there).
const (
	PollIn   int16 = 0x01
	PollOut  int16 = 0x04
	PollErr  int16 = 0x08
	PollHup  int16 = 0x10
	PollNval int16 = 0x20
)

// Kernel is the seam between the backend and the operating system: the
// event-port calls the backend makes. On illumos and Solaris it is the
// system itself (System); on Linux the tests use an emulation.
type Kernel interface {
	// PortCreate creates an event port (port_create(3C)).
	PortCreate() (Port, error)
}

// Port is one event port. Associate and Dissociate may be called from any
// goroutine; Getn only from the polling goroutine.
type Port interface {
	// Associate associates fd with the port for events, or updates an
	// existing association (port_associate(3C), PORT_SOURCE_FD). The
	// association is one-shot: retrieving its event dissociates it.
	Associate(fd int, events int16, user uint64) error
	// Dissociate removes fd's association; ENOENT if there is none.
	Dissociate(fd int) error
	// Getn retrieves at least one and up to len(events) events, waiting
	// at most timeout (negative: no limit) (port_getn(3C)). When the time
	// runs out it fails with ETIME, possibly together with n > 0 events.
	Getn(events []PortEvent, timeout time.Duration) (int, error)
	// Close closes the port.
	Close() error
}

// Descriptor is implemented by ports that know their descriptor (the
// emulation; x/sys's EventPort hides it).
type Descriptor interface {
	FD() int
}

// Lister is implemented by ports that can list their associations (the
// emulation can; illumos offers no way). The backend's
// poller.Introspector reads it.
type Lister interface {
	Associations() []PortEvent // FD, Events (the mask asked for), User
}

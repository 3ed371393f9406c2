package evports

import (
	"time"

	"golang.org/x/sys/unix"
)

// System is the kernel interface of this operating system: event ports
// through golang.org/x/sys/unix's EventPort, which wraps port_create,
// port_associate, port_dissociate and port_getn.
var System Kernel = sysKernel{}

// Backend is the evports registration record.
var Backend = NewBackend(System, Name)

var _ = [1]int{}[(unix.POLLIN^int(PollIn))|(unix.POLLOUT^int(PollOut))|
	(unix.POLLERR^int(PollErr))|(unix.POLLHUP^int(PollHup))|(unix.POLLNVAL^int(PollNval))]

type sysKernel struct{}

func (sysKernel) PortCreate() (Port, error) {
	ep, err := unix.NewEventPort()
	if err != nil {
		return nil, err
	}
	return &sysPort{ep: ep, buf: make([]unix.PortEvent, 1)}, nil
}

// sysPort adapts unix.EventPort. Its cookies are the generations. It
// keeps its own record of associations, so that re-associating an fd
// (which EventPort refuses while it remembers one) dissociates first.
type sysPort struct {
	ep  *unix.EventPort
	buf []unix.PortEvent // owned by Getn's goroutine
	ts  unix.Timespec
}

func (p *sysPort) Associate(fd int, events int16, user uint64) error {
	if p.ep.FdIsWatched(uintptr(fd)) {
		if err := p.ep.DissociateFd(uintptr(fd)); err != nil && err != unix.ENOENT {
			return err
		}
	}
	return p.ep.AssociateFd(uintptr(fd), int(events), user)
}

func (p *sysPort) Dissociate(fd int) error {
	if !p.ep.FdIsWatched(uintptr(fd)) {
		return unix.ENOENT
	}
	return p.ep.DissociateFd(uintptr(fd))
}

func (p *sysPort) Getn(events []PortEvent, timeout time.Duration) (int, error) {
	if len(p.buf) < len(events) {
		p.buf = make([]unix.PortEvent, len(events))
	}
	var ts *unix.Timespec
	if timeout >= 0 {
		p.ts = unix.NsecToTimespec(int64(timeout))
		ts = &p.ts
	}
	n, err := p.ep.Get(p.buf[:len(events)], 1, ts)
	for i := 0; i < n; i++ {
		e := &p.buf[i]
		user, _ := e.Cookie.(uint64)
		events[i] = PortEvent{FD: int(e.Fd), Events: int16(e.Events), User: user}
		*e = unix.PortEvent{}
	}
	return n, err
}

func (p *sysPort) Close() error { return p.ep.Close() }

package portemu

import (
	"sync"
	"time"

	"github.com/evpoll/evpoll/pollers/evports"
	"golang.org/x/sys/unix"
)

// Kernel is the emulated kernel: it creates emulated ports.
type Kernel struct{}

var _ evports.Kernel = Kernel{}

// New returns an emulated kernel.
func New() Kernel { return Kernel{} }

// PortCreate creates an emulated port. Its descriptor is a real epoll
// descriptor, so fd accounting sees it.
func (Kernel) PortCreate() (evports.Port, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &Port{epfd: epfd, assoc: map[int]*assoc{}, bySer: map[uint64]int{}, epev: make([]unix.EpollEvent, 64)}, nil
}

type assoc struct {
	serial   uint64
	dev, ino uint64
	events   int16
	user     uint64
	armed    bool // associated (not yet consumed by an event)
	inEpoll  bool // the epoll registration exists (maybe disarmed)
}

// Port is an emulated event port.
type Port struct {
	mu     sync.Mutex
	epfd   int
	closed bool
	assoc  map[int]*assoc // by fd: armed ones are associations
	bySer  map[uint64]int
	serial uint64
	epev   []unix.EpollEvent
}

var (
	_ evports.Port       = (*Port)(nil)
	_ evports.Lister     = (*Port)(nil)
	_ evports.Descriptor = (*Port)(nil)
)

// FD returns the port's descriptor.
func (p *Port) FD() int { return p.epfd }

// Close closes the port.
func (p *Port) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return unix.EBADF
	}
	p.closed = true
	return unix.Close(p.epfd)
}

func stat(fd int) (dev, ino uint64, err error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, 0, unix.EBADF
	}
	return st.Dev, st.Ino, nil
}

func toEpoll(events int16) uint32 {
	m := uint32(unix.EPOLLONESHOT)
	if events&evports.PollIn != 0 {
		m |= unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if events&evports.PollOut != 0 {
		m |= unix.EPOLLOUT
	}
	return m
}

func epollEvent(mask uint32, serial uint64) unix.EpollEvent {
	return unix.EpollEvent{Events: mask, Fd: int32(uint32(serial)), Pad: int32(uint32(serial >> 32))}
}

// Associate associates fd with the port (port_associate).
func (p *Port) Associate(fd int, events int16, user uint64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return unix.EBADF
	}
	dev, ino, err := stat(fd)
	if err != nil {
		p.drop(fd)
		return err
	}
	a := p.assoc[fd]
	if a != nil && (a.dev != dev || a.ino != ino) {
		p.drop(fd) // closed and reused: the close dissociated it
		a = nil
	}
	if a == nil {
		p.serial++
		a = &assoc{serial: p.serial, dev: dev, ino: ino}
		p.assoc[fd] = a
		p.bySer[a.serial] = fd
	}
	ev := epollEvent(toEpoll(events), a.serial)
	op := unix.EPOLL_CTL_ADD
	if a.inEpoll {
		op = unix.EPOLL_CTL_MOD
	}
	err = unix.EpollCtl(p.epfd, op, fd, &ev)
	if err == unix.EEXIST {
		// A registration of the same file under this number outlived
		// an earlier close of the fd (epoll registers files): take it
		// over with the new serial.
		err = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, fd, &ev)
	}
	if err != nil {
		p.drop(fd)
		return err
	}
	a.inEpoll, a.armed, a.events, a.user = true, true, events, user
	return nil
}

// Dissociate removes fd's association (port_dissociate).
func (p *Port) Dissociate(fd int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return unix.EBADF
	}
	a := p.assoc[fd]
	if a == nil || !p.same(fd, a) {
		p.drop(fd)
		return unix.ENOENT
	}
	armed := a.armed
	p.drop(fd)
	if !armed {
		return unix.ENOENT
	}
	return nil
}

// drop forgets fd's association, deleting its epoll registration if the
// fd still names the same file.
func (p *Port) drop(fd int) {
	a := p.assoc[fd]
	if a == nil {
		return
	}
	if a.inEpoll && p.same(fd, a) {
		unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	}
	delete(p.bySer, a.serial)
	delete(p.assoc, fd)
}

func (p *Port) same(fd int, a *assoc) bool {
	dev, ino, err := stat(fd)
	return err == nil && dev == a.dev && ino == a.ino
}

// Getn retrieves events (port_getn with nget 1).
func (p *Port) Getn(events []evports.PortEvent, timeout time.Duration) (int, error) {
	if len(events) == 0 {
		return 0, unix.EINVAL
	}
	var deadline time.Time
	if timeout >= 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		ms := -1
		if timeout >= 0 {
			left := time.Until(deadline)
			if left < 0 {
				left = 0
			}
			ms = int((left + time.Millisecond - 1) / time.Millisecond)
		}
		max := min(len(p.epev), len(events))
		got, err := unix.EpollWait(p.epfd, p.epev[:max], ms)
		if err != nil {
			return 0, err
		}
		n, zombies := p.collect(got, events)
		if zombies {
			p.rebuild()
		}
		if n > 0 {
			return n, nil
		}
		if timeout >= 0 && !time.Now().Before(deadline) {
			return 0, unix.ETIME
		}
	}
}

func (p *Port) collect(got int, events []evports.PortEvent) (n int, zombies bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 0; i < got; i++ {
		ev := p.epev[i]
		serial := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
		fd, ok := p.bySer[serial]
		a := p.assoc[fd]
		if !ok || a == nil || !p.same(fd, a) {
			if ok {
				p.drop(fd)
			}
			zombies = true
			continue
		}
		if !a.armed {
			continue
		}
		var re int16
		if ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP) != 0 && a.events&evports.PollIn != 0 {
			re |= evports.PollIn
		}
		if ev.Events&unix.EPOLLOUT != 0 && a.events&evports.PollOut != 0 {
			re |= evports.PollOut
		}
		if ev.Events&unix.EPOLLERR != 0 {
			re |= evports.PollErr
		}
		if ev.Events&unix.EPOLLHUP != 0 {
			re |= evports.PollHup
		}
		a.armed = false // one-shot: retrieval dissociates
		events[n] = evports.PortEvent{FD: fd, Events: re, User: a.user}
		n++
	}
	return n, zombies
}

// rebuild replaces the epoll set by one holding the live associations, at
// the same descriptor number, dropping registrations of closed fds whose
// files live on elsewhere.
func (p *Port) rebuild() {
	p.mu.Lock()
	defer p.mu.Unlock()
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return
	}
	defer unix.Close(epfd)
	for fd, a := range p.assoc {
		if !a.armed || !p.same(fd, a) {
			delete(p.bySer, a.serial)
			delete(p.assoc, fd)
			continue
		}
		ev := epollEvent(toEpoll(a.events), a.serial)
		if unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev) != nil {
			delete(p.bySer, a.serial)
			delete(p.assoc, fd)
		}
	}
	unix.Dup3(epfd, p.epfd, unix.O_CLOEXEC)
}

// Associations lists the live associations, dropping those of fds closed
// since (the close dissociated them).
func (p *Port) Associations() []evports.PortEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []evports.PortEvent
	for fd, a := range p.assoc {
		if !p.same(fd, a) {
			p.drop(fd)
			continue
		}
		if a.armed {
			out = append(out, evports.PortEvent{FD: fd, Events: a.events, User: a.user})
		}
	}
	return out
}

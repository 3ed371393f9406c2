package kqemu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/evpoll/evpoll/pollers/kqueue"
	"golang.org/x/sys/unix"
)

// Kernel is the emulated kernel: it creates emulated queues.
type Kernel struct {
	// Pid, if set, replaces the process id (to play a forked child).
	Pid func() int
}

var _ kqueue.Kernel = (*Kernel)(nil)

// New returns an emulated kernel.
func New() *Kernel { return &Kernel{} }

// Getpid returns the (possibly overridden) process id.
func (k *Kernel) Getpid() int {
	if k.Pid != nil {
		return k.Pid()
	}
	return unix.Getpid()
}

// Kqueue creates an emulated queue. Its descriptor is a real epoll
// descriptor, so fd accounting sees it.
func (k *Kernel) Kqueue() (kqueue.Queue, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	q := &Queue{
		k:      k,
		pid:    k.Getpid(),
		epfd:   epfd,
		evfd:   evfd,
		knotes: map[key]*knote{},
		users:  map[uint64]*knote{},
		files:  map[int]*file{},
		bySer:  map[uint64]int{},
		epev:   make([]unix.EpollEvent, 64),
	}
	if err := q.epollAdd(evfd, unix.EPOLLIN, 0); err != nil {
		q.Close()
		return nil, err
	}
	return q, nil
}

type key struct {
	ident  uint64
	filter kqueue.Filter
}

type knote struct {
	kqueue.Kevent      // Ident, Filter, Flags (EV_ONESHOT, EV_CLEAR), Fflags, Udata
	triggered     bool // EVFILT_USER
}

// file is the epoll registration behind an fd's read and write knotes.
type file struct {
	serial   uint64 // epoll data: a zombie registration has no file
	dev, ino uint64 // identity when the first knote was added
	mask     uint32
}

// Queue is an emulated kqueue.
type Queue struct {
	k      *Kernel
	pid    int
	mu     sync.Mutex
	epfd   int
	evfd   int // interrupts waits when a user event is triggered
	closed bool
	knotes map[key]*knote
	users  map[uint64]*knote // the EVFILT_USER knotes among them
	files  map[int]*file
	bySer  map[uint64]int // file serial → fd
	serial uint64
	epev   []unix.EpollEvent
	// Freed knotes and files, reused so that a warm queue allocates
	// nothing (the backend's allocation tests run over it).
	freeK []*knote
	freeF []*file
	// Rebuilds counts how often the epoll set was rebuilt to drop
	// registrations of closed fds whose files live on elsewhere.
	rebuilds atomic.Uint64
}

var (
	_ kqueue.Queue  = (*Queue)(nil)
	_ kqueue.Lister = (*Queue)(nil)
)

// FD returns the queue's descriptor.
func (q *Queue) FD() int { return q.epfd }

// Rebuilds returns how often zombie registrations forced a rebuild.
func (q *Queue) Rebuilds() uint64 { return q.rebuilds.Load() }

// Close closes the queue.
func (q *Queue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return unix.EBADF
	}
	q.closed = true
	unix.Close(q.evfd)
	return unix.Close(q.epfd)
}

// Release forgets the queue without closing its descriptor, as a forked
// child must. The emulation's descriptors are real ones of this process;
// they stay open, like the old number in a real child.
func (q *Queue) Release() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}

// usable reports EBADF for a closed queue or a call from another process.
func (q *Queue) usable() error {
	if q.closed || q.k.Getpid() != q.pid {
		return unix.EBADF
	}
	return nil
}

// Kevent applies changes, then collects events (see kqueue(2)).
func (q *Queue) Kevent(changes, events []kqueue.Kevent, timeout time.Duration) (int, error) {
	q.mu.Lock()
	if err := q.usable(); err != nil {
		q.mu.Unlock()
		return 0, err
	}
	nres := 0
	for i := range changes {
		ch := changes[i]
		errno := q.apply(&ch)
		if errno == 0 && ch.Flags&kqueue.EvReceipt == 0 {
			continue
		}
		if nres == len(events) {
			q.mu.Unlock()
			if errno == 0 {
				return nres, nil
			}
			return 0, errno
		}
		ch.Flags = kqueue.EvError
		ch.Data = int64(errno)
		events[nres] = ch
		nres++
	}
	if nres > 0 || len(events) == 0 {
		q.mu.Unlock()
		return nres, nil
	}
	n := q.collectUser(events)
	q.mu.Unlock()
	if n > 0 {
		timeout = 0
	}
	ms := -1
	if timeout >= 0 {
		ms = int((timeout + time.Millisecond - 1) / time.Millisecond)
	}
	max := min(len(q.epev), len(events)-n)
	if max == 0 {
		return n, nil
	}
	got, err := unix.EpollWait(q.epfd, q.epev[:max], ms)
	if err != nil {
		if n > 0 {
			return n, nil
		}
		return 0, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return 0, unix.EBADF
	}
	zombies := false
	if n == 0 {
		n = q.collectUser(events)
	}
	for i := 0; i < got && n < len(events); i++ {
		ev := q.epev[i]
		serial := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
		if serial == 0 {
			var buf [8]byte
			unix.Read(q.evfd, buf[:])
			if n == 0 {
				n = q.collectUser(events)
			}
			continue
		}
		fd, f := q.bySerial(serial)
		if f == nil || !q.same(fd, f) {
			if f != nil {
				q.purge(fd)
			}
			zombies = true
			continue
		}
		n = q.fire(fd, ev.Events, events, n)
	}
	if zombies {
		q.rebuild()
	}
	return n, nil
}

// collectUser reports triggered user events.
func (q *Queue) collectUser(events []kqueue.Kevent) int {
	n := 0
	for id, kn := range q.users {
		if !kn.triggered || n == len(events) {
			continue
		}
		events[n] = kn.Kevent
		events[n].Flags &^= kqueue.EvAdd | kqueue.EvReceipt
		n++
		if kn.Flags&kqueue.EvClear != 0 {
			kn.triggered = false
		}
		if kn.Flags&kqueue.EvOneshot != 0 {
			delete(q.users, id)
			q.delKnote(key{id, kqueue.FilterUser})
		}
	}
	return n
}

// fire turns one epoll event of fd into read and write kevents.
func (q *Queue) fire(fd int, epev uint32, events []kqueue.Kevent, n int) int {
	hup := epev&unix.EPOLLHUP != 0
	errEv := epev&unix.EPOLLERR != 0
	if kn := q.knotes[key{uint64(fd), kqueue.FilterRead}]; kn != nil && n < len(events) &&
		epev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		ev := kn.Kevent
		ev.Flags &^= kqueue.EvAdd | kqueue.EvReceipt
		if epev&unix.EPOLLRDHUP != 0 || hup {
			ev.Flags |= kqueue.EvEOF
		}
		ev.Data = 0
		if nb, err := unix.IoctlGetInt(fd, unix.SIOCINQ); err == nil {
			ev.Data = int64(nb)
		} else if epev&unix.EPOLLIN != 0 {
			ev.Data = 1
		}
		events[n] = ev
		n++
		q.fired(kn)
	}
	if kn := q.knotes[key{uint64(fd), kqueue.FilterWrite}]; kn != nil && n < len(events) &&
		epev&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		ev := kn.Kevent
		ev.Flags &^= kqueue.EvAdd | kqueue.EvReceipt
		if hup || errEv {
			ev.Flags |= kqueue.EvEOF
		}
		ev.Data = 0
		events[n] = ev
		n++
		q.fired(kn)
	}
	return n
}

// fired removes a one-shot knote once reported.
func (q *Queue) fired(kn *knote) {
	if kn.Flags&kqueue.EvOneshot == 0 {
		return
	}
	fd := int(kn.Ident)
	q.delKnote(key{kn.Ident, kn.Filter})
	q.sync(fd)
}

// apply applies one change and returns its errno (0 for success).
func (q *Queue) apply(ch *kqueue.Kevent) unix.Errno {
	const known = kqueue.EvAdd | kqueue.EvDelete | kqueue.EvOneshot | kqueue.EvClear | kqueue.EvReceipt
	if ch.Flags&^known != 0 {
		return unix.EINVAL
	}
	k := key{ch.Ident, ch.Filter}
	switch ch.Filter {
	case kqueue.FilterUser:
		kn := q.knotes[k]
		switch {
		case ch.Flags&kqueue.EvDelete != 0:
			if kn == nil {
				return unix.ENOENT
			}
			delete(q.users, ch.Ident)
			q.delKnote(k)
			return 0
		case ch.Flags&kqueue.EvAdd != 0:
			if kn == nil {
				kn = q.newKnote()
				q.knotes[k] = kn
				q.users[ch.Ident] = kn
			}
			kn.Kevent = *ch
			kn.Flags &= kqueue.EvOneshot | kqueue.EvClear
		case kn == nil:
			return unix.ENOENT
		}
		if ch.Fflags&kqueue.NoteTrigger != 0 {
			kn.triggered = true
		}
		return 0
	case kqueue.FilterRead, kqueue.FilterWrite:
	default:
		return unix.EINVAL
	}
	if ch.Fflags != 0 || ch.Flags&kqueue.EvClear != 0 {
		return unix.EINVAL
	}
	fd := int(ch.Ident)
	if ch.Ident > 1<<31-1 {
		return unix.EBADF
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		q.purge(fd)
		return unix.EBADF
	}
	if f := q.files[fd]; f != nil && (f.dev != st.Dev || f.ino != st.Ino) {
		// The fd was closed and its number reused: the kernel removed
		// its knotes at close.
		q.purge(fd)
	}
	kn := q.knotes[k]
	switch {
	case ch.Flags&kqueue.EvDelete != 0:
		if kn == nil {
			return unix.ENOENT
		}
		q.delKnote(k)
	case ch.Flags&kqueue.EvAdd != 0:
		if kn == nil {
			kn = q.newKnote()
			q.knotes[k] = kn
		}
		kn.Kevent = *ch
		kn.Flags &= kqueue.EvOneshot
		kn.Data = 0
		if q.files[fd] == nil {
			q.serial++
			f := q.newFile()
			*f = file{serial: q.serial, dev: st.Dev, ino: st.Ino}
			q.files[fd] = f
			q.bySer[q.serial] = fd
		}
	default:
		if kn == nil {
			return unix.ENOENT
		}
	}
	if err := q.sync(fd); err != 0 {
		q.delKnote(k)
		q.sync(fd)
		return err
	}
	return 0
}

// Trigger fires user event ident (a NOTE_TRIGGER change), from any
// goroutine.
func (q *Queue) Trigger(ident uint64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.usable(); err != nil {
		return err
	}
	kn := q.knotes[key{ident, kqueue.FilterUser}]
	if kn == nil {
		return unix.ENOENT
	}
	kn.triggered = true
	var one = [8]byte{1}
	_, err := unix.Write(q.evfd, one[:])
	return err
}

// Knotes lists the queue's registrations, dropping those of fds closed
// since (the kernel removed them at close).
func (q *Queue) Knotes() []kqueue.Kevent {
	q.mu.Lock()
	defer q.mu.Unlock()
	for fd, f := range q.files {
		if !q.same(fd, f) {
			q.purge(fd)
		}
	}
	out := make([]kqueue.Kevent, 0, len(q.knotes))
	for _, kn := range q.knotes {
		out = append(out, kn.Kevent)
	}
	return out
}

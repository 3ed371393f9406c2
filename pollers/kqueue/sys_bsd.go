//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package kqueue

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// System is the kernel interface of this operating system: kqueue(2) and
// kevent(2) through golang.org/x/sys/unix.
var System Kernel = sysKernel{}

// Backend is the kqueue registration record.
var Backend = NewBackend(System, Name)

type sysKernel struct{}

func (sysKernel) Getpid() int { return unix.Getpid() }

func (sysKernel) Kqueue() (Queue, error) {
	fd, err := unix.Kqueue()
	if err != nil {
		return nil, err
	}
	unix.CloseOnExec(fd)
	return &sysQueue{fd: fd}, nil
}

// sysQueue converts between Kevent and unix.Kevent_t in buffers that live
// outside the Go heap (anonymous mappings): the kernel hands back udata in
// a pointer field, and the generation it carries is no pointer, so the
// garbage collector must never scan these structs.
type sysQueue struct {
	fd     int
	mem    []byte
	ch, ev []unix.Kevent_t
	ts     unix.Timespec
}

func (q *sysQueue) FD() int { return q.fd }

// grow makes room for n changes and n events.
func (q *sysQueue) grow(n int) error {
	if n <= len(q.ch) {
		return nil
	}
	size := int(unsafe.Sizeof(unix.Kevent_t{}))
	mem, err := unix.Mmap(-1, 0, 2*n*size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return err
	}
	q.Release()
	q.mem = mem
	base := (*unix.Kevent_t)(unsafe.Pointer(&mem[0]))
	all := unsafe.Slice(base, 2*n)
	q.ch, q.ev = all[:n:n], all[n:]
	return nil
}

func (q *sysQueue) Kevent(changes, events []Kevent, timeout time.Duration) (int, error) {
	if !hasReceipt && len(changes) > 0 && changes[0].Flags&EvReceipt != 0 {
		return q.receipts(changes, events)
	}
	n := max(len(changes), len(events), 1)
	if err := q.grow(n); err != nil {
		return 0, err
	}
	for i := range changes {
		if !toSys(&q.ch[i], &changes[i]) {
			return 0, unix.EINVAL
		}
	}
	var ts *unix.Timespec
	if timeout >= 0 {
		q.ts = unix.NsecToTimespec(int64(min(timeout, MaxTimeout)))
		ts = &q.ts
	}
	n, err := unix.Kevent(q.fd, q.ch[:len(changes)], q.ev[:len(events)], ts)
	if err != nil {
		return 0, err
	}
	for i := 0; i < n; i++ {
		fromSys(&events[i], &q.ev[i])
	}
	return n, nil
}

func (q *sysQueue) Close() error {
	q.Release()
	return unix.Close(q.fd)
}

func (q *sysQueue) Release() {
	if q.mem != nil {
		unix.Munmap(q.mem)
		q.mem, q.ch, q.ev = nil, nil, nil
	}
}

// Flag values are the same on every BSD; this fails to compile if x/sys
// says otherwise for this one.
var _ = [1]int{}[(unix.EV_ADD^int(EvAdd))|(unix.EV_DELETE^int(EvDelete))|
	(unix.EV_ONESHOT^int(EvOneshot))|(unix.EV_CLEAR^int(EvClear))|
	(unix.EV_ERROR^int(EvError))|(unix.EV_EOF^int(EvEOF))]

func toSysFilter(f Filter) (int, bool) {
	switch f {
	case FilterRead:
		return unix.EVFILT_READ, true
	case FilterWrite:
		return unix.EVFILT_WRITE, true
	case FilterUser:
		return sysFilterUser, hasUserFilter
	}
	return 0, false
}

func fromSysFilter(f int) Filter {
	switch f {
	case unix.EVFILT_READ:
		return FilterRead
	case unix.EVFILT_WRITE:
		return FilterWrite
	case sysFilterUser:
		if hasUserFilter {
			return FilterUser
		}
	}
	return 0
}

// receipts applies changes marked EV_RECEIPT where the system has no
// EV_RECEIPT (HAProxy's fallback): a last, bogus deletion of fd -1 always
// fails, so the kernel reports the failures into the event list and
// returns before collecting events. The result is one entry per change,
// as EV_RECEIPT gives.
func (q *sysQueue) receipts(changes, events []Kevent) (int, error) {
	n := len(changes) + 1
	if err := q.grow(n); err != nil {
		return 0, err
	}
	for i := range changes {
		c := changes[i]
		c.Flags &^= EvReceipt
		if !toSys(&q.ch[i], &c) {
			return 0, unix.EINVAL
		}
	}
	bogus := Kevent{Ident: ^uint64(0), Filter: FilterRead, Flags: EvDelete}
	toSys(&q.ch[len(changes)], &bogus)
	zero := unix.Timespec{}
	q.ts = zero
	got, err := unix.Kevent(q.fd, q.ch[:n], q.ev[:n], &q.ts)
	if err != nil {
		return 0, err
	}
	m := min(len(changes), len(events))
	for i := 0; i < m; i++ {
		events[i] = changes[i]
		events[i].Flags = EvError
		events[i].Data = 0
	}
	for i := 0; i < got; i++ {
		var r Kevent
		fromSys(&r, &q.ev[i])
		for j := 0; j < m; j++ {
			if changes[j].Ident == r.Ident && changes[j].Filter == r.Filter {
				events[j].Data = r.Data
			}
		}
	}
	return m, nil
}

// setUint and setInt store into kevent fields whose width differs between
// 32- and 64-bit systems.
func setUint[T uint32 | uint64](dst *T, v uint64) { *dst = T(v) }

func setInt[T int32 | int64](dst *T, v int64) { *dst = T(v) }

package kqemu

import (
	"github.com/evpoll/evpoll/pollers/kqueue"
	"golang.org/x/sys/unix"
)

// The epoll side of the emulation: each fd with knotes has one epoll
// registration (a file record), tagged with a serial so that a
// registration outliving its fd (the file kept open by a dup) is
// recognised and dropped by a rebuild.

// sync makes fd's epoll registration match its knotes.
func (q *Queue) sync(fd int) unix.Errno {
	f := q.files[fd]
	if f == nil {
		return 0
	}
	var mask uint32
	if q.knotes[key{uint64(fd), kqueue.FilterRead}] != nil {
		mask |= unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if q.knotes[key{uint64(fd), kqueue.FilterWrite}] != nil {
		mask |= unix.EPOLLOUT
	}
	if mask == f.mask {
		return 0
	}
	var err error
	switch {
	case mask == 0:
		err = unix.EpollCtl(q.epfd, unix.EPOLL_CTL_DEL, fd, nil)
		q.forget(fd)
	case f.mask == 0:
		err = q.epollAdd(fd, mask, f.serial)
	default:
		ev := epollEvent(mask, f.serial)
		err = unix.EpollCtl(q.epfd, unix.EPOLL_CTL_MOD, fd, &ev)
	}
	if err != nil {
		if errno, ok := err.(unix.Errno); ok {
			// Regular files cannot be polled by epoll; kqueue would
			// accept them. Not modelled.
			return errno
		}
		return unix.EINVAL
	}
	f.mask = mask
	return 0
}

func epollEvent(mask uint32, serial uint64) unix.EpollEvent {
	return unix.EpollEvent{Events: mask, Fd: int32(uint32(serial)), Pad: int32(uint32(serial >> 32))}
}

// epollAdd registers fd. EEXIST means a registration of the same file
// under this number outlived an earlier close of the fd (epoll registers
// files): it is taken over with the new serial.
func (q *Queue) epollAdd(fd int, mask uint32, serial uint64) error {
	ev := epollEvent(mask, serial)
	err := unix.EpollCtl(q.epfd, unix.EPOLL_CTL_ADD, fd, &ev)
	if err == unix.EEXIST {
		err = unix.EpollCtl(q.epfd, unix.EPOLL_CTL_MOD, fd, &ev)
	}
	return err
}

func (q *Queue) bySerial(serial uint64) (int, *file) {
	fd, ok := q.bySer[serial]
	if !ok {
		return -1, nil
	}
	return fd, q.files[fd]
}

// forget drops fd's file record.
func (q *Queue) forget(fd int) {
	if f := q.files[fd]; f != nil {
		delete(q.bySer, f.serial)
		delete(q.files, fd)
		q.freeF = append(q.freeF, f)
	}
}

func (q *Queue) newKnote() *knote {
	if n := len(q.freeK); n > 0 {
		kn := q.freeK[n-1]
		q.freeK = q.freeK[:n-1]
		*kn = knote{}
		return kn
	}
	return &knote{}
}

func (q *Queue) delKnote(k key) {
	if kn := q.knotes[k]; kn != nil {
		delete(q.knotes, k)
		q.freeK = append(q.freeK, kn)
	}
}

func (q *Queue) newFile() *file {
	if n := len(q.freeF); n > 0 {
		f := q.freeF[n-1]
		q.freeF = q.freeF[:n-1]
		return f
	}
	return &file{}
}

// same reports whether fd still names the file its knotes were made for.
func (q *Queue) same(fd int, f *file) bool {
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Dev == f.dev && st.Ino == f.ino
}

// purge drops fd's knotes, as closing it does in the kernel. The epoll
// registration may outlive it (epoll registers files): it is recognised
// by its serial and dropped by a rebuild.
func (q *Queue) purge(fd int) {
	f := q.files[fd]
	delete(q.knotes, key{uint64(fd), kqueue.FilterRead})
	delete(q.knotes, key{uint64(fd), kqueue.FilterWrite})
	if f == nil {
		return
	}
	q.forget(fd)
	if q.same(fd, f) {
		unix.EpollCtl(q.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	}
}

// rebuild replaces the epoll set by one holding exactly the live files,
// at the same descriptor number.
func (q *Queue) rebuild() {
	q.rebuilds.Add(1)
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return
	}
	defer unix.Close(epfd)
	add := func(fd int, mask uint32, serial uint64) error {
		ev := epollEvent(mask, serial)
		return unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev)
	}
	if add(q.evfd, unix.EPOLLIN, 0) != nil {
		return
	}
	for fd, f := range q.files {
		if !q.same(fd, f) || add(fd, f.mask, f.serial) != nil {
			delete(q.knotes, key{uint64(fd), kqueue.FilterRead})
			delete(q.knotes, key{uint64(fd), kqueue.FilterWrite})
			q.forget(fd)
		}
	}
	unix.Dup3(epfd, q.epfd, unix.O_CLOEXEC)
}

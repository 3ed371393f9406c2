package loop

import (
	"encoding/binary"
	"os"

	"golang.org/x/sys/unix"
)

// waker is a thread's wake-up fd: on Linux one eventfd, whose counter any
// write makes readable and one read resets.
type waker struct{ rfd, wfd int }

func newWaker() (waker, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return waker{-1, -1}, os.NewSyscallError("eventfd", err)
	}
	return waker{fd, fd}, nil
}

func (w waker) signal() {
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], 1)
	// EAGAIN means the counter is saturated: the thread is woken anyway.
	unix.Write(w.wfd, b[:])
}

func (w waker) drain() {
	var b [8]byte
	for {
		n, err := unix.Read(w.rfd, b[:])
		if n <= 0 || err != nil {
			return
		}
	}
}

func (w waker) close() { unix.Close(w.rfd) }

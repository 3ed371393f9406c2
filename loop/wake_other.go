//go:build unix && !linux

package loop

import (
	"os"

	"golang.org/x/sys/unix"
)

// waker is a thread's wake-up fd: a non-blocking pipe, whose read end
// becomes readable on any write.
type waker struct{ rfd, wfd int }

func newWaker() (waker, error) {
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		return waker{-1, -1}, os.NewSyscallError("pipe", err)
	}
	for _, fd := range p {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(p[0])
			unix.Close(p[1])
			return waker{-1, -1}, os.NewSyscallError("fcntl", err)
		}
	}
	return waker{p[0], p[1]}, nil
}

func (w waker) signal() {
	// EAGAIN means the pipe is full: the thread is woken anyway.
	unix.Write(w.wfd, []byte{'c'})
}

func (w waker) drain() {
	var b [1024]byte
	for {
		n, err := unix.Read(w.rfd, b[:])
		if n <= 0 || err != nil {
			return
		}
	}
}

func (w waker) close() {
	unix.Close(w.rfd)
	unix.Close(w.wfd)
}

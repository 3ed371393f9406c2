package epoll

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawZeroWait says whether zero-timeout waits use the raw system call
// entry (see waitNow); tests and benchmarks turn it off to compare.
var rawZeroWait = true

// KernelWait waits for events (poller.Waiter).
func (p *Poller) KernelWait(timeoutMS int) (int, error) {
	epfd := int(p.epfd.Load())
	var n int
	var err error
	if timeoutMS == 0 && rawZeroWait {
		n, err = waitNow(epfd, p.events)
	} else {
		n, err = unix.EpollWait(epfd, p.events, timeoutMS)
	}
	if err != unix.EINTR {
		p.Waits.Add(1)
	}
	if err != nil {
		return 0, os.NewSyscallError("epoll_wait", err)
	}
	return n, nil
}

// waitNow is epoll_wait with a zero timeout, made through the raw system
// call entry, which does not tell the Go scheduler that the thread may
// block (unix.EpollWait goes through entersyscall and exitsyscall, which
// let another thread take the goroutine's P). That is safe because a zero
// timeout never sleeps: the kernel copies out the ready events and
// returns at once, as the raw entry requires. epoll_ctl needs nothing of
// the kind: x/sys already makes it through the raw entry. events is never
// empty (a Context asks for at least one event per wait).
func waitNow(epfd int, events []unix.EpollEvent) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd),
		uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

package chain

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

func (k Kind) supported() error {
	if k < Socketpair || k > Eventfd {
		return fmt.Errorf("chain: unknown kind %d", int(k))
	}
	return nil
}

func eventfd() (int, error) {
	fd, err := unix.Eventfd(0, unix.EFD_SEMAPHORE|unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	return fd, os.NewSyscallError("eventfd", err)
}

package epoll

import (
	"os"

	"github.com/evpoll/evpoll/internal/construct"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	"golang.org/x/sys/unix"
)

// Name is the backend's registered name.
const Name = "epoll"

const staticFlags = poller.FlagERRHUP | poller.FlagFork | poller.FlagBusyPoll

// Backend is the epoll registration record.
var Backend = poller.Backend{
	Name:       Name,
	Preference: 300,
	Flags:      staticFlags,
	Test:       test,
	New:        construct.New(New),
}

func init() { poller.Register(Backend) }

// test creates and closes an epoll instance (HAProxy's _do_test).
func test(*fdtable.Table) error {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("epoll_create1", err)
	}
	unix.Close(fd)
	return nil
}

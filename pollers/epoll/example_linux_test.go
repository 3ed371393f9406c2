package epoll_test

import (
	"fmt"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	"github.com/evpoll/evpoll/pollers/epoll"
	"golang.org/x/sys/unix"
)

// ExampleNew builds an epoll instance without the registry and reads one
// message from a socket pair through it.
func ExampleNew() {
	tab := fdtable.New(1024)
	th, _ := tab.NewThread(0)
	ctx := poller.NewContext(th)
	p, err := epoll.New(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()

	fds, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	defer unix.Close(fds[1])
	th.Insert(fds[0], "conn", func(fd int, owner any) {
		var buf [64]byte
		n, _ := unix.Read(fd, buf[:])
		fmt.Printf("%s read %q\n", owner, buf[:n])
		th.CantRecv(fd)
	}, th.Bit())
	defer th.Delete(fds[0])
	th.WantRecv(fds[0])
	th.CantRecv(fds[0])

	unix.Write(fds[1], []byte("hello"))
	p.Poll(ctx.UpdateTime().Add(100), false)
	fmt.Println("poll cycles with events:", ctx.Activity.PollIO.Load())
	// Output:
	// conn read "hello"
	// poll cycles with events: 1
}

package pollers_test

import (
	"fmt"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	_ "github.com/evpoll/evpoll/pollers"
	"golang.org/x/sys/unix"
)

// Example selects the best backend of this system through the registry
// and echoes one message through it. (The environment is left out so the
// output does not depend on EVPOLL_POLLER; poller.Open reads it.)
func Example() {
	tab := fdtable.New(1024)
	th, _ := tab.NewThread(0)
	ctx := poller.NewContext(th)
	noEnv := func(string) (string, bool) { return "", false }
	be, p, err := poller.Default.Open(ctx, noEnv)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Term()
	fmt.Println("using", be.Name)

	fds, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	defer unix.Close(fds[1])
	th.Insert(fds[0], nil, func(fd int, _ any) {
		var buf [64]byte
		n, _ := unix.Read(fd, buf[:])
		unix.Write(fd, buf[:n]) // echo
		th.CantRecv(fd)
	}, th.Bit())
	defer th.Delete(fds[0])
	th.WantRecv(fds[0])
	th.CantRecv(fds[0])

	unix.Write(fds[1], []byte("ping"))
	p.Poll(ctx.UpdateTime().Add(100), false)
	var reply [64]byte
	n, _ := unix.Read(fds[1], reply[:])
	fmt.Printf("echoed %q\n", reply[:n])
	// Output:
	// using epoll
	// echoed "ping"
}

package pollers_test

import (
	"fmt"
	"log"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	_ "github.com/evpoll/evpoll/pollers" // every backend of this OS
	"golang.org/x/sys/unix"
)

// Example opens the best backend of this system through the registry and
// echoes one message through it. The README's "Using it" section is this
// function's body, checked by TestReadmeExample.
func Example() {
	tab := fdtable.New(0)       // sized from RLIMIT_NOFILE; memory grows with use
	th, err := tab.NewThread(0) // one per polling goroutine
	if err != nil {
		log.Fatal(err)
	}
	ctx := poller.NewContext(th)
	_, p, err := poller.Open(ctx) // the highest-preference backend that starts
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer unix.Close(fds[1])
	echo := func(fd int, owner any) { // the iocb, called from Poll
		var buf [64]byte
		n, _ := unix.Read(fd, buf[:])
		unix.Write(fd, buf[:n])
		th.CantRecv(fd) // read until EAGAIN in real code
	}
	if err := th.Insert(fds[0], nil, echo, th.Bit()); err != nil {
		log.Fatal(err)
	}
	defer th.Delete(fds[0])
	th.WantRecv(fds[0])

	unix.Write(fds[1], []byte("ping"))
	if err := p.Poll(ctx.UpdateTime().Add(100), false); err != nil { // wait at most 100 ms
		log.Fatal(err)
	}
	var reply [64]byte
	n, _ := unix.Read(fds[1], reply[:])
	fmt.Printf("echoed %q\n", reply[:n])
	// Output:
	// echoed "ping"
}

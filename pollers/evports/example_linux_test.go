package evports_test

import (
	"fmt"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/internal/portemu"
	"github.com/evpoll/evpoll/poller"
	"github.com/evpoll/evpoll/pollers/evports"
	"golang.org/x/sys/unix"
)

// ExampleNew reads a message through an event-port instance. On illumos and
// Solaris the kernel is evports.System; this example runs on Linux, over the
// emulation the tests use.
func ExampleNew() {
	tab := fdtable.New(1024)
	th, _ := tab.NewThread(0)
	ctx := poller.NewContext(th)
	p, err := evports.New(ctx, portemu.New())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()

	fds, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	defer unix.Close(fds[1])
	th.Insert(fds[0], nil, func(fd int, _ any) {
		var buf [64]byte
		n, _ := unix.Read(fd, buf[:])
		fmt.Printf("read %q\n", buf[:n])
		th.CantRecv(fd)
	}, th.Bit())
	defer th.Delete(fds[0])
	th.WantRecv(fds[0])
	th.CantRecv(fds[0])

	unix.Write(fds[1], []byte("ping"))
	p.Poll(ctx.UpdateTime().Add(100), false)
	// Output:
	// read "ping"
}

// ExamplePoller_Waker ends another goroutine's wait.
func ExamplePoller_Waker() {
	tab := fdtable.New(1024)
	th, _ := tab.NewThread(0)
	ctx := poller.NewContext(th)
	p, _ := evports.New(ctx, portemu.New())
	defer p.Close()
	w, _ := p.Waker()

	time.AfterFunc(10*time.Millisecond, func() { w.Wake() })
	start := time.Now()
	p.Poll(ctx.UpdateTime().Add(5000), false)
	fmt.Println("woken before the timer:", time.Since(start) < time.Second)
	// Output:
	// woken before the timer: true
}

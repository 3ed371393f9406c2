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

// ExampleNew reads two messages through an event-port instance. An event
// port association is one-shot: the kernel drops it when it reports the
// fd, and the instance associates the fd again after the callback, which
// Rearms counts. On illumos and Solaris the kernel is evports.System; this
// example runs on Linux, over the emulation the tests use.
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

	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		fmt.Println(err)
		return
	}
	defer unix.Close(fds[1])
	read := func(fd int, _ any) {
		buf := make([]byte, 16)
		n, _ := unix.Read(fd, buf)
		fmt.Printf("read %q\n", buf[:n])
		th.CantRecv(fd)
	}
	th.Insert(fds[0], nil, read, th.Bit())
	defer th.Delete(fds[0])
	th.WantRecv(fds[0])
	th.CantRecv(fds[0])

	for _, msg := range []string{"one", "two"} {
		unix.Write(fds[1], []byte(msg))
		p.Poll(ctx.UpdateTime().Add(100), false)
	}
	fmt.Println("re-associations:", p.Rearms())
	// Output:
	// read "one"
	// read "two"
	// re-associations: 2
}

// ExamplePoller_Waker ends a wait that has no timer at all.
func ExamplePoller_Waker() {
	tab := fdtable.New(1024)
	th, _ := tab.NewThread(0)
	ctx := poller.NewContext(th)
	p, _ := evports.New(ctx, portemu.New())
	defer p.Close()
	w, _ := p.Waker()

	// With no timer, a wait lasts poller.MaxDelayMS unless woken.
	done := make(chan time.Duration)
	go func() {
		start := time.Now()
		p.Poll(poller.Eternity, false)
		done <- time.Since(start)
	}()
	time.Sleep(10 * time.Millisecond)
	w.Wake()
	fmt.Println("woken early:", <-done < poller.MaxDelayMS*time.Millisecond/2)
	// Output:
	// woken early: true
}

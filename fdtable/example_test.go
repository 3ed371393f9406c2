package fdtable_test

import (
	"fmt"

	"github.com/evpoll/evpoll/fdtable"
)

// printer is a toy backend: it shows what a real one would register.
type printer struct{ tab *fdtable.Table }

func (p printer) UpdateFD(up fdtable.Update) {
	fd := up.FD
	fmt.Printf("update fd %d: state %v\n", fd, p.tab.State(fd))
}

// Closing is called when an fd is deleted; a real backend forgets it.
func (printer) Closing(fd int, _ uint32, _ bool) {}

// A thread inserts an fd it owns alone, asks to receive, and its backend
// picks the change up from the thread's local update list. Then the kernel
// reports the fd readable and the iocb runs.
func ExampleThread_WantRecv() {
	tab := fdtable.New(1024)
	th, err := tab.NewThread(0)
	if err != nil {
		panic(err)
	}
	const fd = 7 // in real code, a socket
	iocb := func(fd int, owner any) { fmt.Printf("iocb fd %d owner %v\n", fd, owner) }
	if err := th.Insert(fd, "conn-1", iocb, th.Bit()); err != nil {
		panic(err)
	}
	fmt.Println("after insert:", tab.State(fd))

	th.WantRecv(fd)
	th.WantRecv(fd) // already wanted: nothing more queued
	fmt.Println("local updates:", th.LocalUpdates(), "update mask:", tab.UpdateMask(fd))

	th.DrainUpdates(printer{tab}, true)
	th.CantRecv(fd) // the read hit EAGAIN

	called := th.UpdateEvents(fd, fdtable.ReadyR)
	fmt.Println("iocb called:", called, "state:", tab.State(fd), "ev:", tab.Ev(fd))

	th.Remove(fd) // Delete would also close it
	fmt.Println("open:", tab.IsOpen(fd))
	// Output:
	// after insert: 0x22(R:Ra W:Ra)
	// local updates: [7] update mask: 1
	// update fd 7: state 0x23(R:RA W:Ra)
	// iocb fd 7 owner conn-1
	// iocb called: true state: 0x23(R:RA W:Ra) ev: 0x02(R:Ra W:ra)
	// open: false
}

// A change to an fd shared by two threads goes to the shared list; each
// thread applies it to its own kernel object and the last one to do so
// takes the entry off the list.
func ExampleTable_SharedList() {
	tab := fdtable.New(1024)
	t0, _ := tab.NewThread(0)
	t1, _ := tab.NewThread(1)
	const fd = 9
	t0.Insert(fd, "listener", nil, t0.Bit()|t1.Bit())

	tab.External().WantRecv(fd)
	fds, _, _ := tab.SharedList()
	fmt.Printf("shared list %v, update mask %#x\n", fds, tab.UpdateMask(fd))

	t0.DrainUpdates(printer{tab}, true)
	fmt.Printf("after thread 0: update mask %#x, listed %v\n", tab.UpdateMask(fd), tab.Listed(fd))
	t1.DrainUpdates(printer{tab}, true)
	fmt.Printf("after thread 1: update mask %#x, listed %v\n", tab.UpdateMask(fd), tab.Listed(fd))
	// Output:
	// shared list [9], update mask 0x3
	// update fd 9: state 0x23(R:RA W:Ra)
	// after thread 0: update mask 0x2, listed true
	// update fd 9: state 0x23(R:RA W:Ra)
	// after thread 1: update mask 0x0, listed false
}

// The lazy stop of HAProxy 2.2: stopping queues nothing; only when the
// kernel reports an event nobody wants is the fd queued so that the backend
// deregisters it.
func ExampleThread_UpdateEvents() {
	tab := fdtable.New(1024)
	th, _ := tab.NewThread(0)
	const fd = 5
	th.Insert(fd, "conn", func(int, any) { fmt.Println("iocb") }, th.Bit())
	th.WantRecv(fd)
	th.DrainUpdates(printer{tab}, true)

	th.StopRecv(fd)
	fmt.Println("after stop:", th.LocalUpdates())
	called := th.UpdateEvents(fd, fdtable.ReadyR)
	fmt.Println("iocb called:", called, "local updates:", th.LocalUpdates())
	th.DrainUpdates(printer{tab}, true)
	// Output:
	// update fd 5: state 0x23(R:RA W:Ra)
	// after stop: []
	// iocb called: false local updates: [5]
	// update fd 5: state 0x22(R:Ra W:Ra)
}

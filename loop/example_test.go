package loop_test

import (
	"fmt"
	"syscall"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/loop"
	_ "github.com/evpoll/evpoll/pollers" // every backend of this OS
)

// A timer task that ticks three times, 5 ms apart, then starts a soft
// stop; with no jobs held, Run returns once signal 0 has been handled.
func Example() {
	// A small table, so that every backend (select included) accepts it.
	l, err := loop.New(loop.Config{Threads: 2, Table: fdtable.New(1024)})
	if err != nil {
		fmt.Println(err)
		return
	}
	l.HandleSignal(0, func(syscall.Signal, int) { fmt.Println("soft stop") })
	ticks := 0
	tick := l.NewTask(func(t *loop.Task, _ any, why loop.State) bool {
		if why&loop.WokenTimer != 0 {
			ticks++
			fmt.Println("tick", ticks)
		}
		if ticks == 3 {
			l.SoftStop()
			return false
		}
		t.SetExpire(t.Thread().Now().Add(5))
		return true
	}, nil, 1) // bound to thread 0
	l.Wakeup(tick, loop.WokenInit)
	if err := l.Run(); err != nil {
		fmt.Println(err)
	}
	fmt.Println("stopped")
	// Output:
	// tick 1
	// tick 2
	// tick 3
	// soft stop
	// stopped
}

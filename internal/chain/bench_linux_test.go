package chain

import (
	"fmt"
	"testing"

	"github.com/evpoll/evpoll/pollers/epoll"
)

// BenchmarkRunners times one round of each Linux runner side by side, so
// that instruction counts (valgrind --tool=callgrind with a fixed
// -benchtime) compare evpoll's epoll path with the hand-written loop.
func BenchmarkRunners(b *testing.B) {
	for _, fds := range []int{100, 1000} {
		cfg := Config{FDs: fds, Active: 100, Writes: 100}
		for _, name := range []string{"raw-epoll", "epoll"} {
			b.Run(fmt.Sprintf("runner=%s/fds=%d", name, fds), func(b *testing.B) {
				var r Runner
				var err error
				if name == "epoll" {
					r, err = New(epoll.Backend, cfg)
				} else {
					r, err = NewBaseline(name, cfg)
				}
				if err != nil {
					b.Fatal(err)
				}
				defer r.Close()
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if _, err := r.Round(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestEpollSyscallsMatchRaw: in steady state evpoll's epoll path makes the
// system calls the hand-written loop makes and no others: one epoll_wait
// per cycle where the raw loop makes one per wait (the same chain: one
// event per wait), and no epoll_ctl at all, since the registrations do not
// change between rounds. Reads and writes are the workload's own.
func TestEpollSyscallsMatchRaw(t *testing.T) {
	syscallsMatchRaw(t, RawEpoll, epoll.Backend)
}

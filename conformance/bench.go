package conformance

import (
	"fmt"
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	"golang.org/x/sys/unix"
)

// BenchSizes are the registered-fd counts Benchmark sweeps.
var BenchSizes = []int{100, 1000, 10000}

// BenchActive are the numbers of initially active fds Benchmark sweeps.
var BenchActive = []int{1, 100}

// BenchWrites is the length of the write chain of one round.
const BenchWrites = 100

// Benchmark measures be with the shape of libevent's bench.c, as
// sub-benchmarks named backend=X/fds=N/active=M: N fds (N/2 socket pairs,
// both ends registered for reading), M of them made readable at the start
// of a round, and every read event writing one byte to the peer of the
// next fd until BenchWrites writes were chained. One op is one round; the
// events/op metric counts the callbacks of a round. Sizes the backend or
// the fd limit cannot hold are skipped with a message.
func Benchmark(b *testing.B, be poller.Backend) {
	b.Run("backend="+be.Name, func(b *testing.B) {
		for _, n := range BenchSizes {
			for _, m := range BenchActive {
				if m > n {
					continue
				}
				b.Run(fmt.Sprintf("fds=%d/active=%d", n, m), func(b *testing.B) {
					benchRound(b, be, n, m)
				})
			}
		}
	})
}

type benchState struct {
	th     *fdtable.Thread
	fds    []int // registered fds, in chain order
	peer   map[int]int
	next   []int // fd index -> index of the next fd in the chain
	index  map[int]int
	writes int
	fired  int
	buf    [1]byte
}

func benchRound(b *testing.B, be poller.Backend, n, active int) {
	tab := fdtable.New(n*2 + 1024)
	if be.Test != nil {
		if err := be.Test(tab); err != nil {
			b.Skipf("backend %s cannot serve %d fds: %v", be.Name, n, err)
		}
	}
	th, err := tab.NewThread(0)
	if err != nil {
		b.Fatal(err)
	}
	ctx := poller.NewContext(th)
	p, err := be.New(ctx)
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	defer p.Term()
	s := &benchState{th: th, peer: map[int]int{}, index: map[int]int{}}
	defer func() {
		for _, fd := range s.fds {
			if tab.IsOpen(fd) {
				th.Remove(fd)
			}
			unix.Close(fd)
		}
	}()
	for len(s.fds) < n {
		fds, err := socketpair()
		if err != nil {
			b.Skipf("%d fds: socketpair: %v (raise the fd limit)", n, err)
		}
		s.fds = append(s.fds, fds[0], fds[1])
		s.peer[fds[0]], s.peer[fds[1]] = fds[1], fds[0]
	}
	s.next = make([]int, len(s.fds))
	for i, fd := range s.fds {
		s.index[fd] = i
		s.next[i] = (i + 1) % len(s.fds)
	}
	iocb := func(fd int, _ any) {
		i := fd // owner lookups would cost; use the index table
		unix.Read(i, s.buf[:])
		s.fired++
		if s.writes > 0 {
			nx := s.fds[s.next[s.index[fd]]]
			unix.Write(s.peer[nx], s.buf[:])
			s.writes--
		}
	}
	for _, fd := range s.fds {
		if err := th.Insert(fd, nil, iocb, th.Bit()); err != nil {
			b.Skipf("%d fds: %v", n, err)
		}
		th.WantRecv(fd)
		th.CantRecv(fd)
	}
	if err := p.Poll(poller.Eternity, true); err != nil {
		b.Fatalf("Poll: %v", err)
	}
	space := len(s.fds) / active
	events := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.fired = 0
		s.writes = BenchWrites
		for k := 0; k < active; k++ {
			unix.Write(s.peer[s.fds[k*space]], s.buf[:])
		}
		want := active + BenchWrites
		for s.fired < want {
			if err := p.Poll(ctx.UpdateTime().Add(100), false); err != nil {
				b.Fatalf("Poll: %v", err)
			}
		}
		events += s.fired
	}
	b.StopTimer()
	b.ReportMetric(float64(events)/float64(b.N), "events/op")
}

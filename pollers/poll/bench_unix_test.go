//go:build unix

package poll

import (
	"fmt"
	"math/bits"
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"golang.org/x/sys/unix"
)

// arraySizes are the registered-fd counts of BenchmarkArray.
var arraySizes = []int{100, 1000, 10000}

// BenchmarkArray compares the two ways of producing a cycle's pollfd
// array, on the same socket pairs: "incremental" is the backend's fdArray,
// kept up to date by the updates (nothing to do per cycle);
// "rebuild" is HAProxy's way, rebuilding the array from read and write
// bitmaps every cycle and checking each fd's thread mask in the table
// (which is how a rebuild keeps foreign fds out of the kernel array).
// One op is one round: 100 of the n registered fds are made readable, one
// poll(2) call, the ready entries are found and drained.
// BenchmarkArrayBuild times the rebuild alone.
func BenchmarkArray(b *testing.B) {
	for _, n := range arraySizes {
		for _, mode := range []string{"incremental", "rebuild"} {
			b.Run(fmt.Sprintf("mode=%s/fds=%d/active=100", mode, n), func(b *testing.B) {
				r := newArrayBench(b, n)
				r.run(b, mode == "rebuild", 100)
			})
		}
	}
}

// BenchmarkArrayBuild times rebuilding the pollfd array from the bitmaps
// alone (the incremental array costs nothing per cycle).
func BenchmarkArrayBuild(b *testing.B) {
	for _, n := range arraySizes {
		b.Run(fmt.Sprintf("fds=%d", n), func(b *testing.B) {
			r := newArrayBench(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				r.rebuild()
			}
		})
	}
}

type arrayBench struct {
	tab    *fdtable.Table
	bit    uint64
	fds    []int
	peer   map[int]int
	arr    fdArray  // incremental
	rd, wr []uint64 // rebuild: wanted directions by fd
	pfds   []unix.PollFd
	buf    [1]byte
}

func newArrayBench(b *testing.B, n int) *arrayBench {
	r := &arrayBench{tab: fdtable.New(2*n + 1024), peer: map[int]int{}}
	th, err := r.tab.NewThread(0)
	if err != nil {
		b.Fatal(err)
	}
	r.bit = th.Bit()
	b.Cleanup(func() {
		for _, fd := range r.fds {
			unix.Close(fd)
		}
	})
	for len(r.fds) < n {
		p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err != nil {
			b.Skipf("%d fds: socketpair: %v (raise the fd limit)", n, err)
		}
		for _, fd := range p {
			unix.SetNonblock(fd, true)
		}
		r.fds = append(r.fds, p[0], p[1])
		r.peer[p[0]], r.peer[p[1]] = p[1], p[0]
	}
	maxfd := 0
	for _, fd := range r.fds {
		if err := th.Insert(fd, nil, nil, r.bit); err != nil {
			b.Skipf("insert: %v", err)
		}
		maxfd = max(maxfd, fd+1)
	}
	r.rd = make([]uint64, (maxfd+63)/64)
	r.wr = make([]uint64, len(r.rd))
	for _, fd := range r.fds {
		r.arr.set(fd, eventMask(true, false), r.tab.Info(fd).Gen)
		r.rd[fd/64] |= 1 << (fd % 64)
	}
	r.pfds = make([]unix.PollFd, 0, len(r.fds))
	return r
}

// rebuild builds r.pfds from the bitmaps, as HAProxy's _do_poll does.
func (r *arrayBench) rebuild() {
	r.pfds = r.pfds[:0]
	for w := range r.rd {
		rw, ww := r.rd[w], r.wr[w]
		for m := rw | ww; m != 0; m &= m - 1 {
			b := bits.TrailingZeros64(m)
			fd := w*64 + b
			if r.tab.Info(fd).Threads&r.bit == 0 {
				continue
			}
			r.pfds = append(r.pfds, unix.PollFd{Fd: int32(fd), Events: eventMask(rw>>b&1 != 0, ww>>b&1 != 0)})
		}
	}
}

func (r *arrayBench) run(b *testing.B, rebuild bool, active int) {
	space := len(r.fds) / active
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for k := range active {
			unix.Write(r.peer[r.fds[k*space]], r.buf[:])
		}
		pfds := r.arr.pfds
		if rebuild {
			r.rebuild()
			pfds = r.pfds
		}
		n, err := unix.Poll(pfds, 1000)
		if err != nil {
			b.Fatal(err)
		}
		if n != active {
			b.Fatalf("poll returned %d ready fds, want %d", n, active)
		}
		for i := 0; n > 0; i++ {
			if pfds[i].Revents != 0 {
				n--
				unix.Read(int(pfds[i].Fd), r.buf[:])
			}
		}
	}
}

package fdtable_test

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
)

// stressUpdater is one thread's backend: it remembers, per fd, the
// sequence number current when UpdateFD last ran and the ACTIVE bits it
// read then (what it would have registered with the kernel).
type stressUpdater struct {
	tab   *fdtable.Table
	seq   *atomic.Uint64
	seen  []uint64
	reg   []fdtable.State
	calls int
}

func (u *stressUpdater) UpdateFD(up fdtable.Update) {
	fd := up.FD
	i := fd - stressBase
	u.seen[i] = u.seq.Load()
	u.reg[i] = u.tab.State(fd) & fdtable.ActiveRW
	u.calls++
}

// Closing does nothing: no poller instance is attached in this test.
func (*stressUpdater) Closing(int, uint32, bool) {}

const (
	stressBase    = 10
	stressFDs     = 40
	stressThreads = 4
)

// TestConcurrentUpdates toggles WantRecv/WantSend/StopBoth on fds shared by
// several threads from every thread and from the external handle, while
// each thread drains its updates. After quiescing and a final drain: no
// update is pending anywhere, and every owner thread applied (called
// UpdateFD for) every fd after the last change that queued an update for
// it, and so has registered at least the directions finally wanted.
func TestConcurrentUpdates(t *testing.T) {
	tab, ths := newTable(t, stressThreads)
	ext := tab.External()
	masks := []uint64{0xf, 0x3, 0x6, 0xc, 0x5, 0xa, 0x1, 0x2, 0x4, 0x8}
	for i := range stressFDs {
		if err := ext.Insert(stressBase+i, nil, func(int, any) {}, masks[i%len(masks)]); err != nil {
			t.Fatal(err)
		}
	}
	var (
		seq        atomic.Uint64
		lastChange [stressFDs]atomic.Uint64 // seq of the last queueing want
		changes    atomic.Int64
	)
	recordMax := func(i int, v uint64) {
		for {
			old := lastChange[i].Load()
			if old >= v || lastChange[i].CompareAndSwap(old, v) {
				return
			}
		}
	}
	// toggle performs one random operation. A want whose bit was clear
	// when sampled after taking a sequence number guarantees that a change
	// queueing an update happens after that number was taken (this want's,
	// or a concurrent one's), so every owner must run UpdateFD later.
	toggle := func(th *fdtable.Thread, r *rand.Rand) {
		i := r.IntN(stressFDs)
		fd := stressBase + i
		var bit fdtable.State
		switch r.IntN(5) {
		case 0, 1:
			bit = fdtable.ActiveR
		case 2, 3:
			bit = fdtable.ActiveW
		default:
			th.StopBoth(fd)
			return
		}
		v := seq.Add(1)
		before := tab.State(fd)
		if bit == fdtable.ActiveR {
			th.WantRecv(fd)
		} else {
			th.WantSend(fd)
		}
		if before&bit == 0 {
			recordMax(i, v)
			changes.Add(1)
		}
	}

	const run = 300 * time.Millisecond
	deadline := time.Now().Add(run)
	var togglers, exited sync.WaitGroup
	quiesced := make(chan struct{})
	updaters := make([]*stressUpdater, stressThreads)
	for n, th := range ths {
		u := &stressUpdater{tab: tab, seq: &seq, seen: make([]uint64, stressFDs), reg: make([]fdtable.State, stressFDs)}
		updaters[n] = u
		togglers.Add(1)
		exited.Add(1)
		go func() {
			defer exited.Done()
			r := rand.New(rand.NewPCG(uint64(n), 1))
			for k := 0; time.Now().Before(deadline); k++ {
				toggle(th, r)
				if r.IntN(8) == 0 {
					// Spurious kernel events: lazy stops go to the local list.
					th.UpdateEvents(stressBase+r.IntN(stressFDs), fdtable.ReadyR|fdtable.ReadyW)
				}
				if k%4 == 0 {
					th.DrainUpdates(u, true)
				}
			}
			togglers.Done()
			for {
				select {
				case <-quiesced:
					th.DrainUpdates(u, true)
					return
				default:
					th.DrainUpdates(u, true)
					runtime.Gosched()
				}
			}
		}()
	}
	for n := range 2 {
		togglers.Add(1)
		go func() {
			defer togglers.Done()
			r := rand.New(rand.NewPCG(uint64(100+n), 2))
			for time.Now().Before(deadline) {
				toggle(ext, r)
			}
		}()
	}
	togglers.Wait()
	close(quiesced)
	exited.Wait()

	if l := sharedList(tab); len(l) != 0 {
		t.Errorf("shared list not empty after final drain: %v", l)
	}
	for _, th := range ths {
		if l := th.LocalUpdates(); len(l) != 0 {
			t.Errorf("thread %d local list not empty: %v", th.ID(), l)
		}
	}
	calls, tracked, active := 0, 0, 0
	for _, u := range updaters {
		calls += u.calls
	}
	for i := range stressFDs {
		fd := stressBase + i
		if m := tab.UpdateMask(fd); m != 0 {
			t.Errorf("fd %d: update mask %#x after final drain", fd, m)
		}
		final := tab.State(fd) & fdtable.ActiveRW
		if final != 0 {
			active++
		}
		last := lastChange[i].Load()
		if last != 0 {
			tracked++
		}
		mask := tab.ThreadMask(fd)
		for tid, u := range updaters {
			if mask&(1<<tid) == 0 {
				continue
			}
			if u.seen[i] < last {
				t.Errorf("fd %d: thread %d last applied it at seq %d, before the change at seq %d", fd, tid, u.seen[i], last)
			}
			if u.reg[i]&final != final {
				t.Errorf("fd %d: thread %d registered %v, final wanted state %v", fd, tid, u.reg[i], final)
			}
		}
	}
	t.Logf("%d queueing changes, %d UpdateFD calls, %d/%d fds tracked, %d active at the end", changes.Load(), calls, tracked, stressFDs, active)
	// The checks above are only meaningful if the run did real work.
	if tracked < stressFDs/2 || calls < stressFDs || active == 0 {
		t.Errorf("vacuous run: %d fds tracked, %d UpdateFD calls, %d active fds", tracked, calls, active)
	}
}

// TestConcurrentEventsAndTakeover runs UpdateEvents on every thread of a
// shared fd while the threads also take it over, want it and drain: a
// takeover must never move the fd while another thread runs its iocb, and
// at rest the fd has one owner and no runner.
func TestConcurrentEventsAndTakeover(t *testing.T) {
	tab, ths := newTable(t, stressThreads)
	const fd = 20
	var moved, calls atomic.Int64
	if err := tab.External().Insert(fd, nil, func(fd int, _ any) {
		calls.Add(1)
		m := tab.ThreadMask(fd)
		for range 20 {
			runtime.Gosched()
		}
		if tab.ThreadMask(fd) != m {
			moved.Add(1)
		}
	}, 0xf); err != nil {
		t.Fatal(err)
	}
	// Run for 200 ms, and on past it (up to 10 s) until a takeover has
	// succeeded: on a loaded machine every attempt can find the iocb
	// running for the whole 200 ms.
	deadline := time.Now().Add(200 * time.Millisecond)
	hardDeadline := time.Now().Add(10 * time.Second)
	var wg sync.WaitGroup
	var takeovers, busy atomic.Int64
	running := func() bool {
		now := time.Now()
		return now.Before(deadline) || (takeovers.Load() == 0 && now.Before(hardDeadline))
	}
	for n, th := range ths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(n), 3))
			for running() {
				switch r.IntN(4) {
				case 0:
					err := th.Takeover(fd, tab.Gen(fd))
					if err == nil {
						takeovers.Add(1)
					} else if errClass(err) == "ErrBusy" {
						busy.Add(1)
					} else {
						t.Errorf("Takeover: %v", err)
					}
				case 1:
					th.WantRecv(fd)
				default:
					th.UpdateEvents(fd, fdtable.ReadyR)
				}
				th.DrainUpdates(nopUpdater{}, true)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d iocb calls, %d takeovers, %d busy", calls.Load(), takeovers.Load(), busy.Load())
	if moved.Load() != 0 {
		t.Errorf("the fd was taken over %d times while its iocb ran", moved.Load())
	}
	if calls.Load() == 0 || takeovers.Load() == 0 {
		t.Errorf("vacuous run: %d iocb calls, %d takeovers", calls.Load(), takeovers.Load())
	}
	if m := tab.ThreadMask(fd); m == 0 || m&(m-1) != 0 {
		t.Errorf("thread mask %#x after takeovers, want a single thread", m)
	}
	if r := tab.RunningMask(fd); r != 0 {
		t.Errorf("running mask %#x at rest", r)
	}
}

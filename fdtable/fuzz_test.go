package fdtable_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"golang.org/x/sys/unix"
)

// fuzzOwner is one generation's owner of an fd in FuzzTwoThreads.
type fuzzOwner struct {
	gen     uint32
	removed atomic.Int64 // sequence number when its Remove returned; 0 while live
}

// FuzzTwoThreads runs two goroutines, each a polling thread of one table,
// over three real sockets, with operations decoded from the input:
// Insert, Remove, the want/stop/cant/may family, Takeover, Dispatch and
// DrainUpdates, interleaved as the scheduler likes. Whatever the order:
// nothing panics or deadlocks; an iocb never runs for an owner whose
// Remove returned before the Dispatch began, nor for an event of another
// generation; UpdateFD only ever sees open fds with their current
// generation; and after both threads drain, every open fd that is wanted
// is registered by the threads that own it.
func FuzzTwoThreads(f *testing.F) {
	f.Add([]byte{0, 12, 27, 8, 17, 1, 0, 7, 9, 8})
	f.Add([]byte{10, 20, 11, 21, 17, 27, 1, 11, 21, 0, 10, 20, 18, 28, 9, 19})
	f.Add([]byte{0, 2, 3, 7, 9, 13, 8, 18, 1, 4, 6, 5})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 512 {
			data = data[:512]
		}
		tab := fdtable.New(1024)
		var ths [2]*fdtable.Thread
		for i := range ths {
			th, err := tab.NewThread(i)
			if err != nil {
				t.Fatal(err)
			}
			ths[i] = th
		}
		var fds [3]int
		for i := range fds {
			p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(p[0])
			defer unix.Close(p[1])
			fds[i] = p[0]
		}
		var seq atomic.Int64
		var mu [3]sync.Mutex // serialises Insert/Remove bookkeeping per fd
		var owners [3]*fuzzOwner
		var violations atomic.Int32
		var firstViolation atomic.Value

		violate := func(msg string) {
			if violations.Add(1) == 1 {
				firstViolation.Store(msg)
			}
		}
		// started is the sequence number when the current goroutine's
		// Dispatch began, per goroutine (index = thread id).
		var started [2]atomic.Int64
		var dispatchedGen [2]atomic.Uint32
		// The iocb learns which thread runs it from the running mask;
		// when both run the fd at once it cannot tell, and checks
		// nothing.
		iocb := func(fd int, owner any) {
			o := owner.(*fuzzOwner)
			tid := -1
			switch tab.Info(fd).Running {
			case 0x1:
				tid = 0
			case 0x2:
				tid = 1
			}
			if tid < 0 {
				return
			}
			if r := o.removed.Load(); r != 0 && r <= started[tid].Load() {
				violate("iocb ran for an owner removed before the Dispatch began")
			}
			if o.gen != dispatchedGen[tid].Load() {
				violate("iocb ran for an event of another generation")
			}
		}
		upd := func(tid int) fdtable.Updater {
			return funcUpdater(func(u fdtable.Update) {
				in := tab.Info(u.FD)
				if !in.Open || in.Gen != u.Gen {
					violate("UpdateFD saw a closed fd or a moved generation")
				}
				r := u.Ours && u.State&fdtable.ActiveR != 0
				s := u.Ours && u.State&fdtable.ActiveW != 0
				tab.SetPolled(u.FD, tid, r, s)
			})
		}

		run := func(tid int, ops []byte) {
			th := ths[tid]
			ext := tab.External()
			for i, b := range ops {
				k := int(b/10) % len(fds)
				fd := fds[k]
				switch b % 10 {
				case 0:
					mask := th.Bit()
					if i%2 == 1 {
						mask = 0x3
					}
					mu[k].Lock()
					o := &fuzzOwner{}
					// The generation Insert will give it.
					o.gen = tab.Info(fd).Gen + 1
					if ext.Insert(fd, o, iocb, mask) == nil {
						owners[k] = o
					}
					mu[k].Unlock()
				case 1:
					mu[k].Lock()
					if o := owners[k]; o != nil && ext.Remove(fd) == nil {
						o.removed.Store(seq.Add(1))
						owners[k] = nil
					}
					mu[k].Unlock()
				case 2:
					th.WantRecv(fd)
				case 3:
					th.WantSend(fd)
				case 4:
					th.StopBoth(fd)
				case 5:
					th.CantRecv(fd)
				case 6:
					th.MayRecv(fd)
				case 7:
					gen := tab.Info(fd).Gen
					started[tid].Store(seq.Load())
					dispatchedGen[tid].Store(gen)
					th.Dispatch(fd, gen, fdtable.ReadyR)
				case 8:
					th.DrainUpdates(upd(tid), true)
				case 9:
					th.Takeover(fd, tab.Info(fd).Gen)
				}
			}
		}
		// Split the input: each goroutine is one thread.
		var a, b []byte
		for i, x := range data {
			if i%2 == 0 {
				a = append(a, x)
			} else {
				b = append(b, x)
			}
		}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); run(0, a) }()
		go func() { defer wg.Done(); run(1, b) }()
		wg.Wait()
		if n := violations.Load(); n != 0 {
			t.Fatalf("%d violations; first: %v", n, firstViolation.Load())
		}

		// Both threads drain: every wanted, open fd is registered by
		// the threads that own it.
		for tid := range ths {
			ths[tid].DrainUpdates(upd(tid), true)
		}
		for _, fd := range fds {
			in := tab.Info(fd)
			if !in.Open || in.State&fdtable.ActiveRW == 0 {
				continue
			}
			for tid, th := range ths {
				if in.Threads&th.Bit() == 0 {
					continue
				}
				r := in.PolledRecv&th.Bit() != 0
				s := in.PolledSend&th.Bit() != 0
				if r != (in.State&fdtable.ActiveR != 0) || s != (in.State&fdtable.ActiveW != 0) {
					t.Errorf("fd %d state %v owned by thread %d: polled recv %v send %v after draining", fd, in.State, tid, r, s)
				}
			}
		}
	})
}

package main

import (
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/loop"
	"github.com/evpoll/evpoll/poller"
	"golang.org/x/sys/unix"
)

const msgLen = 8

// pipe is one channel: messages written to w are read from r, each with
// the channel's next sequence number. It belongs to one thread.
type pipe struct {
	r, w    int
	sent    uint64 // last sequence number written
	got     uint64 // last sequence number read
	stopped bool   // read interest flipped off
	th      *tstate
}

// tstate is one thread's part of the soak; only that thread touches it.
type tstate struct {
	s      *soak
	th     *loop.Thread
	pipes  []*pipe
	rnd    uint64
	buf    [64 * msgLen]byte
	timers []*loop.Task
	churn  *loop.Task
	ticks  int
	parked []*pipe   // pipes whose read interest is off until the next tick
	start  time.Time // of the churn, for the timer rate
	ops    int64     // timer operations done
	leaked [][]byte  // -debug-leak heap

	events   atomic.Int64
	bad      atomic.Int64 // lost, duplicated or reordered messages
	reopened atomic.Int64
	flips    atomic.Int64
	armed    atomic.Int64
	fired    atomic.Int64
	err      atomic.Value
}

type soak struct {
	o       options
	l       *loop.Loop
	ts      []*tstate
	fdsAt0  int
	stopped atomic.Bool
	mem     *memWatch
	storm   *storm // nil without -storm
	leak    leaker
}

func newSoak(o options, limit int, backend *poller.Backend) (*soak, error) {
	// Go's runtime opens its own poller (two fds) with the first timer:
	// start it before counting.
	time.Sleep(time.Millisecond)
	if o.memprof != "" {
		runtime.MemProfileRate = 1
	}
	s := &soak{o: o, fdsAt0: openFDs(), mem: newMemWatch(), leak: leaker{kind: o.leak}}
	l, err := loop.New(loop.Config{Threads: o.threads, Table: fdtable.New(limit), Backend: backend})
	if err != nil {
		return nil, err
	}
	s.l = l
	perThread := o.fds / 2 / o.threads
	for i, th := range l.Threads() {
		t := &tstate{s: s, th: th, rnd: uint64(i)*0x9e3779b97f4a7c15 + 1}
		s.ts = append(s.ts, t)
		for range perThread {
			if _, err := t.open(); err != nil {
				s.closeAll()
				l.Close()
				return nil, err
			}
		}
		t.churn = l.NewTask(t.churnTask, nil, th.Bit())
		n := 0
		if o.timers > 0 {
			n = 1000
		}
		for range n {
			t.timers = append(t.timers, l.NewTask(t.timerTask, nil, th.Bit()))
		}
		kick := l.NewTask(t.kick, nil, th.Bit())
		l.Wakeup(kick, loop.WokenInit)
	}
	return s, nil
}

func (t *tstate) rand(n int) int {
	t.rnd ^= t.rnd << 13
	t.rnd ^= t.rnd >> 7
	t.rnd ^= t.rnd << 17
	return int(t.rnd % uint64(n))
}

func (t *tstate) fail(err error) {
	t.err.CompareAndSwap(nil, err)
}

// open adds a new pipe to the thread.
func (t *tstate) open() (*pipe, error) {
	// pipe then fcntl: darwin has no pipe2.
	var fds [2]int
	if err := unix.Pipe(fds[:]); err != nil {
		return nil, fmt.Errorf("pipe: %w", err)
	}
	for _, fd := range fds {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(fds[0])
			unix.Close(fds[1])
			return nil, fmt.Errorf("set non-blocking: %w", err)
		}
	}
	p := &pipe{r: fds[0], w: fds[1], th: t}
	fd := t.th.FD()
	if err := fd.Insert(p.r, p, readable, t.th.Bit()); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, err
	}
	fd.WantRecv(p.r)
	fd.CantRecv(p.r)
	t.pipes = append(t.pipes, p)
	return p, nil
}

// send writes the next message of a random pipe.
func (t *tstate) send() {
	p := t.pipes[t.rand(len(t.pipes))]
	var b [msgLen]byte
	binaryLE.PutUint64(b[:], p.sent+1)
	if n, err := unix.Write(p.w, b[:]); n != msgLen {
		t.fail(fmt.Errorf("write to pipe %d: %d bytes, %v", p.w, n, err))
		return
	}
	p.sent++
}

// kick starts the thread's messages and its churn.
func (t *tstate) kick(tk *loop.Task, _ any, _ loop.State) bool {
	for range t.s.o.inflight {
		t.send()
	}
	t.th.Schedule(t.churn, t.th.Now().Add(1))
	return false
}

// readable is every pipe's iocb: it reads what is there, checks the
// sequence numbers and sends one message on for each one read.
func readable(fd int, owner any) {
	p := owner.(*pipe)
	t := p.th
	n := t.drain(p)
	if n > 0 && !t.s.stopped.Load() {
		for range n {
			t.send()
		}
	}
}

// drain reads everything in p and returns the number of messages.
func (t *tstate) drain(p *pipe) int {
	total := 0
	for {
		n, err := unix.Read(p.r, t.buf[:])
		if n <= 0 {
			// Drained. Anything else (end of file, EINTR, any error)
			// fails the run: the write end is open and the read
			// end non-blocking.
			if err == unix.EAGAIN {
				t.th.FD().CantRecv(p.r)
			} else {
				t.fail(fmt.Errorf("read from pipe %d: %d, %v", p.r, n, err))
			}
			break
		}
		if n%msgLen != 0 {
			t.fail(fmt.Errorf("pipe %d: read %d bytes, not whole messages", p.r, n))
			return total
		}
		for i := 0; i < n; i += msgLen {
			seq := binaryLE.Uint64(t.buf[i:])
			if seq != p.got+1 {
				t.bad.Add(1)
				t.fail(fmt.Errorf("pipe %d: message %d after %d", p.r, seq, p.got))
			}
			p.got = seq
			total++
		}
	}
	t.events.Add(int64(total))
	return total
}

// churnTask runs every millisecond: it flips the read interest of a few
// pipes, closes and reopens one pipe in a hundred ticks, and arms and
// cancels timers at the thread's share of the -timers rate.
func (t *tstate) churnTask(tk *loop.Task, _ any, _ loop.State) bool {
	if t.s.stopped.Load() {
		return false
	}
	t.ticks++
	fd := t.th.FD()
	// The pipes parked last tick want to read again; the messages that
	// waited in them travel on. Then a few others are parked.
	for _, p := range t.parked {
		if p.r < 0 {
			continue // closed meanwhile
		}
		fd.WantRecv(p.r)
		fd.MayRecv(p.r) // data may have arrived meanwhile
		p.stopped = false
		for range t.drain(p) {
			t.send()
		}
		t.flips.Add(1)
	}
	t.parked = t.parked[:0]
	for range 4 {
		p := t.pipes[t.rand(len(t.pipes))]
		if !p.stopped {
			fd.StopRecv(p.r)
			p.stopped = true
			t.parked = append(t.parked, p)
			t.flips.Add(1)
		}
	}
	if t.ticks%100 == 0 {
		t.reopen()
	}
	if t.s.o.leak == "heap" {
		t.leaked = append(t.leaked, make([]byte, 4096))
	}
	if len(t.timers) > 0 {
		if t.start.IsZero() {
			t.start = time.Now()
		}
		// This thread's share of the rate, over the time so far.
		due := int64(time.Since(t.start).Seconds()*float64(t.s.o.timers)/float64(len(t.s.ts))) - t.ops
		t.ops += due
		now := t.th.Now()
		for i := range due {
			tm := t.timers[t.rand(len(t.timers))]
			if i%2 == 0 {
				t.th.Schedule(tm, now.Add(1+t.rand(1000)))
			} else {
				t.th.Unqueue(tm)
			}
			t.armed.Add(1)
		}
	}
	tk.SetExpire(t.th.Now().Add(1))
	return true
}

// reopen closes a random pipe with its messages moved on, and opens a new
// one (the kernel reuses the numbers).
func (t *tstate) reopen() {
	i := t.rand(len(t.pipes))
	p := t.pipes[i]
	n := t.drain(p)
	if p.got != p.sent {
		t.bad.Add(1)
		t.fail(fmt.Errorf("pipe %d closed with %d sent, %d received", p.r, p.sent, p.got))
	}
	if err := t.th.FD().Delete(p.r); err != nil {
		t.fail(err)
	}
	unix.Close(p.w)
	p.r, p.w = -1, -1 // may still be parked
	t.pipes[i] = t.pipes[len(t.pipes)-1]
	t.pipes = t.pipes[:len(t.pipes)-1]
	if _, err := t.open(); err != nil {
		t.fail(err)
		return
	}
	t.reopened.Add(1)
	for range n {
		t.send()
	}
}

func (t *tstate) timerTask(tk *loop.Task, _ any, _ loop.State) bool {
	t.fired.Add(1)
	// Alive but not queued, until the churn arms it again.
	tk.SetExpire(poller.Eternity)
	return true
}

func (s *soak) totals() (events, bad, reopened, flips, armed, fired int64) {
	for _, t := range s.ts {
		events += t.events.Load()
		bad += t.bad.Load()
		reopened += t.reopened.Load()
		flips += t.flips.Load()
		armed += t.armed.Load()
		fired += t.fired.Load()
	}
	return
}

func (s *soak) run(out io.Writer) error {
	if s.o.storm > 0 {
		st, err := startStorm(s.o, s.l)
		if err != nil {
			s.closeAll()
			return err
		}
		s.storm = st
	}
	defer s.leak.end()
	s.mem.sample(true)
	// Before the threads run: they change the pipes.
	fmt.Fprintf(out, "soak: %d pipes on %d threads (%s), %d in flight per thread, %d timer ops/s\n",
		len(s.ts)*len(s.ts[0].pipes), len(s.ts), s.l.Backend().Name, s.o.inflight, s.o.timers)
	done := make(chan error, 1)
	go func() { done <- s.l.Run() }()
	start := time.Now()
	last, lastEvents := start, int64(0)
	report := time.NewTicker(s.o.report)
	defer report.Stop()
	check := time.NewTicker(50 * time.Millisecond)
	defer check.Stop()
	var runErr, stormErr error
	var end time.Time
loop:
	for {
		select {
		case runErr = <-done:
			break loop
		case now := <-check.C:
			ev, _, _, _, _, _ := s.totals()
			// The warm-up: the first fifth of the run.
			warm := ev < s.o.events/5 && now.Sub(start) < s.o.duration/5
			s.mem.sample(warm)
			s.leak.check()
			if s.storm != nil && stormErr == nil {
				stormErr = s.storm.tick(now, ev, warm)
			}
			if ev >= s.o.events || now.Sub(start) >= s.o.duration || s.failed() != nil || stormErr != nil {
				end = now
				s.stopped.Store(true)
				if s.storm != nil && stormErr == nil {
					stormErr = s.storm.idle(min(s.o.window, 300*time.Millisecond))
				}
				if s.storm != nil && stormErr == nil {
					// The whole storm reaches the loop's handlers
					// before the loop stops.
					stormErr = s.storm.finish()
				}
				s.l.Stop()
				runErr = <-done
				break loop
			}
		case now := <-report.C:
			ev, bad, re, fl, ar, fi := s.totals()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Fprintf(out, "soak: %6.1fs events %d (%.0f/s) bad %d reopened %d flips %d timer ops %d fired %d rss %d kB heap %d kB gc %d goroutines %d fds %d\n",
				now.Sub(start).Seconds(), ev, float64(ev-lastEvents)/now.Sub(last).Seconds(), bad, re, fl, ar, fi,
				rss(), ms.HeapInuse/1024, ms.NumGC, runtime.NumGoroutine(), openFDs())
			last, lastEvents = now, ev
		}
	}
	// The run's length, without the storm's idle phase at the end.
	if end.IsZero() {
		end = time.Now()
	}
	el := end.Sub(start)
	if s.storm != nil {
		// Stopped already, unless the loop stopped on its own.
		stormErr = cmpErr(stormErr, s.storm.finish())
	}
	if runErr != nil {
		return runErr
	}
	if err := s.failed(); err != nil {
		s.closeAll()
		return err
	}
	if stormErr != nil {
		s.closeAll()
		return stormErr
	}
	// Everything still in flight is in the pipes: each must hold exactly
	// the messages sent and not yet read, in order.
	for _, t := range s.ts {
		for _, p := range t.pipes {
			t.drainStopped(p)
			if p.got != p.sent {
				t.bad.Add(1)
				t.fail(fmt.Errorf("pipe %d: %d sent, %d received at the end", p.r, p.sent, p.got))
			}
		}
	}
	ev, bad, re, fl, ar, fi := s.totals()
	if s.o.memprof != "" {
		if err := writeMemProfile(s.o.memprof); err != nil {
			fmt.Fprintln(out, "soak: -debug-memprofile:", err)
		}
	}
	s.closeAll()
	fmt.Fprintf(out, "soak: done in %.1fs: events %d (%.0f/s) bad %d reopened %d flips %d timer ops %d fired %d rss %d kB max rss %d kB goroutines %d\n",
		el.Seconds(), ev, float64(ev)/el.Seconds(), bad, re, fl, ar, fi, rss(), peakRSS(), runtime.NumGoroutine())
	fmt.Fprintln(out, "soak: memory:", s.mem)
	if s.storm != nil {
		fmt.Fprintln(out, "soak: storm:", s.storm)
	}
	if err := s.failed(); err != nil {
		return err
	}
	if stormErr != nil {
		return stormErr
	}
	if s.storm != nil {
		if err := s.storm.check(); err != nil {
			return err
		}
	}
	if err := s.mem.check(); err != nil {
		return err
	}
	if n := openFDs(); n != s.fdsAt0 {
		return fmt.Errorf("%d fds open at the end, %d at the start", n, s.fdsAt0)
	}
	fmt.Fprintf(out, "soak: fds at end %d (as at start)\n", s.fdsAt0)
	return nil
}

// drainStopped reads what is left in p after the loop stopped.
func (t *tstate) drainStopped(p *pipe) {
	for {
		n, _ := unix.Read(p.r, t.buf[:])
		if n <= 0 {
			return
		}
		for i := 0; i+msgLen <= n; i += msgLen {
			seq := binaryLE.Uint64(t.buf[i:])
			if seq != p.got+1 {
				t.bad.Add(1)
				t.fail(fmt.Errorf("pipe %d: message %d after %d at the end", p.r, seq, p.got))
			}
			p.got = seq
		}
	}
}

// cmpErr returns the first error that is not nil.
func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func (s *soak) failed() error {
	for _, t := range s.ts {
		if err, _ := t.err.Load().(error); err != nil {
			return err
		}
	}
	return nil
}

// closeAll releases every pipe and the loop.
func (s *soak) closeAll() {
	tab := s.l.Table()
	for _, t := range s.ts {
		for _, p := range t.pipes {
			if tab.Info(p.r).Open {
				t.th.FD().Delete(p.r)
			} else {
				unix.Close(p.r)
			}
			unix.Close(p.w)
		}
		t.pipes = nil
	}
	s.l.Close()
}

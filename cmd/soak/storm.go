package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/evpoll/evpoll/loop"
)

// window is one stretch of the run after the warm-up, with the storm on or
// off, and what it cost.
type window struct {
	storm  bool
	cpu    time.Duration
	events int64
	saw    int64 // signals handled
}

func (w window) perEvent() float64 { return float64(w.cpu.Nanoseconds()) / float64(w.events) }

// storm is the soak's side of -storm: the child that sends the signals,
// its switching on and off, the loop's handlers' counts and the windows.
type storm struct {
	rate   int
	window time.Duration

	cmd  *exec.Cmd
	ctl  io.WriteCloser // the child's stdin: '1' on, '0' off, EOF end
	out  io.ReadCloser  // the child's stdout: what it sent, at the end
	buf  [1]byte
	done bool

	on      bool
	onSince time.Time
	onTime  time.Duration

	// Counts seen by the loop's handlers, on thread 0.
	usr1, usr2, calls atomic.Int64

	windows            []window
	winStart           time.Time
	winCPU             time.Duration
	winEv, winSaw      int64
	sent1, sent2, sent int64 // SIGUSR1, SIGUSR2, SIGWINCH from the child

	// The idle phase: CPU time and loop iterations of its quiet and
	// storm halves, each of idleWall, and the signals handled in the
	// storm half.
	idleWall, idleQuiet, idleStorm time.Duration
	idleLoopsQ, idleLoopsS         int64
	idleSaw                        int64
	l                              *loop.Loop
}

// startStorm registers the loop's handlers and starts the child, storm
// on. Call it before the loop runs.
func startStorm(o options, l *loop.Loop) (*storm, error) {
	st := &storm{rate: o.storm, window: o.window, l: l}
	// Room for every window of the longest run, so that the list does
	// not grow the heap after the warm-up.
	st.windows = make([]window, 0, min(int(o.duration/o.window)+2, 1<<16))
	var spin []*loop.Task
	for _, th := range l.Threads() {
		switch {
		case o.spin > 0:
			spin = append(spin, l.NewTask(func(*loop.Task, any, loop.State) bool {
				for end := time.Now().Add(o.spin); time.Now().Before(end); {
				}
				return true
			}, nil, th.Bit()))
		case o.nosleep > 0:
			// Wakes itself until nosleep has passed: the thread polls
			// without sleeping meanwhile.
			var until time.Time
			spin = append(spin, l.NewTask(func(t *loop.Task, _ any, r loop.State) bool {
				if r&loop.WokenSignal != 0 {
					until = time.Now().Add(o.nosleep)
				}
				if time.Now().Before(until) {
					l.Wakeup(t, loop.WokenOther)
				}
				return true
			}, nil, th.Bit()))
		}
	}
	count := func(sig syscall.Signal, n int) {
		for _, t := range spin {
			l.Wakeup(t, loop.WokenSignal)
		}
		st.calls.Add(1)
		if sig == syscall.SIGUSR1 {
			st.usr1.Add(int64(n))
		} else {
			st.usr2.Add(int64(n))
		}
	}
	for _, sig := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGUSR2} {
		if err := l.HandleSignal(sig, count); err != nil {
			return nil, err
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("storm: %w", err)
	}
	st.cmd = exec.Command(exe, stormChildArg, strconv.Itoa(os.Getpid()), strconv.Itoa(o.storm))
	st.cmd.Stderr = os.Stderr
	if st.ctl, err = st.cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("storm: %w", err)
	}
	if st.out, err = st.cmd.StdoutPipe(); err != nil {
		st.ctl.Close()
		return nil, fmt.Errorf("storm: %w", err)
	}
	if err := st.cmd.Start(); err != nil {
		st.ctl.Close()
		st.out.Close()
		return nil, fmt.Errorf("storm: start the child: %w", err)
	}
	if err := st.set(true, time.Now()); err != nil {
		st.finish()
		return nil, err
	}
	return st, nil
}

// set switches the storm on or off.
func (st *storm) set(on bool, now time.Time) error {
	if st.on == on {
		return nil
	}
	b := st.buf[:]
	b[0] = '0'
	if on {
		b[0] = '1'
		st.onSince = now
	} else {
		st.onTime += now.Sub(st.onSince)
	}
	st.on = on
	if _, err := st.ctl.Write(b); err != nil {
		return fmt.Errorf("storm: write to the child: %w", err)
	}
	return nil
}

// tick is called at every check with the events so far: after the
// warm-up, it closes a window every -storm-window and switches the storm.
// The first window is a quiet one.
func (st *storm) tick(now time.Time, events int64, warm bool) error {
	if warm {
		return nil
	}
	if st.winStart.IsZero() {
		st.winStart, st.winCPU, st.winEv, st.winSaw = now, cpuTime(), events, st.seen()
		return st.set(false, now)
	}
	if now.Sub(st.winStart) < st.window {
		return nil
	}
	cpu, saw := cpuTime(), st.seen()
	if len(st.windows) < cap(st.windows) {
		st.windows = append(st.windows, window{storm: st.on, cpu: cpu - st.winCPU, events: events - st.winEv, saw: saw - st.winSaw})
	}
	st.winStart, st.winCPU, st.winEv, st.winSaw = now, cpu, events, saw
	return st.set(!st.on, now)
}

// idle is the end of a storm run, once the messages have stopped (the
// soak's stopped flag set): the threads now sleep in their polls, where a
// signal interrupts the kernel wait (EINTR), which must resume, while a
// sleeping thread 0 must still be woken to run the handlers. After a
// settling pause of d and a quiet stretch of d, the storm is on for d;
// check compares the CPU time of the two.
func (st *storm) idle(d time.Duration) error {
	if err := st.set(false, time.Now()); err != nil {
		return err
	}
	time.Sleep(d)
	st.idleWall = d
	c0, l0 := cpuTime(), st.loops()
	time.Sleep(d)
	c1, l1 := cpuTime(), st.loops()
	saw := st.seen()
	if err := st.set(true, time.Now()); err != nil {
		return err
	}
	time.Sleep(d)
	c2, l2 := cpuTime(), st.loops()
	st.idleSaw = st.seen() - saw
	st.idleQuiet, st.idleStorm = c1-c0, c2-c1
	st.idleLoopsQ, st.idleLoopsS = l1-l0, l2-l1
	return nil
}

// seen returns the signals the handlers saw so far.
func (st *storm) seen() int64 { return st.usr1.Load() + st.usr2.Load() }

// loops returns the loop iterations of all threads so far.
func (st *storm) loops() int64 {
	n := int64(0)
	for _, th := range st.l.Threads() {
		n += int64(th.Activity().Loops.Load())
	}
	return n
}

// finish stops the child and reads what it sent. Call it before the loop
// stops, so that the loop's handlers see the whole storm; it does nothing
// the second time.
func (st *storm) finish() error {
	if st.done {
		return nil
	}
	st.done = true
	werr := st.set(false, time.Now())
	st.ctl.Close()
	b, rerr := io.ReadAll(st.out)
	if err := st.cmd.Wait(); err != nil {
		return fmt.Errorf("storm: the child: %w", err)
	}
	if werr != nil {
		return werr
	}
	if rerr != nil {
		return fmt.Errorf("storm: read from the child: %w", rerr)
	}
	if _, err := fmt.Sscanf(string(b), stormReport, &st.sent1, &st.sent2, &st.sent); err != nil {
		return fmt.Errorf("storm: the child said %q: %w", b, err)
	}
	return nil
}

// check is the storm's verdict, once the loop has stopped.
func (st *storm) check() error {
	u1, u2 := st.usr1.Load(), st.usr2.Load()
	// Deliveries coalesce, but at least one per 10 ms of storm must get
	// through (or one in ten sent, for a storm slower than that).
	floor := min(int64(st.onTime/(10*time.Millisecond)), (st.sent1+st.sent2)/10)
	switch {
	case u1 > st.sent1 || u2 > st.sent2:
		return fmt.Errorf("storm: handlers saw SIGUSR1 %d SIGUSR2 %d, more than the %d and %d sent", u1, u2, st.sent1, st.sent2)
	case u1+u2 == 0 || u1+u2 < floor:
		return fmt.Errorf("storm: handlers saw %d signals in %.1fs of storm (%d sent), fewer than %d",
			u1+u2, st.onTime.Seconds(), st.sent1+st.sent2, floor)
	}
	// Asleep, a thread goes round its loop when a timer or a handled
	// signal wakes it (an interrupted wait resumes without a new
	// iteration): once per signal sent at most, beyond the quiet count
	// (about a quarter of that was seen). A thread that no longer sleeps
	// goes round thousands of times more.
	idleFloor := min(int64(st.idleWall/(10*time.Millisecond)), (st.sent1+st.sent2)/10)
	idleMax := st.idleLoopsQ + int64(float64(st.rate)*st.idleWall.Seconds()) + 100
	switch {
	case st.idleWall == 0:
	case st.idleLoopsS > idleMax:
		return fmt.Errorf("storm: %d loop iterations in %v of storm while idle, %d in as long quiet (at most %d allowed): the threads spin",
			st.idleLoopsS, st.idleWall, st.idleLoopsQ, idleMax)
	case st.idleSaw < max(idleFloor, 1):
		return fmt.Errorf("storm: handlers saw %d signals in %v of storm while idle, fewer than %d", st.idleSaw, st.idleWall, idleFloor)
	}
	for i, w := range st.windows {
		if w.storm && w.saw == 0 {
			return fmt.Errorf("storm: handlers saw no signal in storm window %d (%v)", i, st.window)
		}
	}
	r := st.pairedMedian()
	if r == 0 {
		return fmt.Errorf("storm: the run ended before a quiet and a storm window (%d windows of %v); run longer or shorten -storm-window",
			len(st.windows), st.window)
	}
	if r > 2 {
		return fmt.Errorf("storm: CPU per event with the storm %.2f times that of the quiet window before (median of the pairs): more than twice", r)
	}
	return nil
}

// best returns the lowest CPU time per event (ns) of the storm or quiet
// windows, 0 if there is none.
func (st *storm) best(storm bool) float64 {
	b := 0.0
	for _, w := range st.windows {
		if w.storm == storm && w.events > 0 && (b == 0 || w.perEvent() < b) {
			b = w.perEvent()
		}
	}
	return b
}

// pairedMedian returns the median ratio of each storm window's CPU per
// event to the quiet window before it.
func (st *storm) pairedMedian() float64 {
	var r []float64
	for i := 1; i < len(st.windows); i++ {
		q, s := st.windows[i-1], st.windows[i]
		if !q.storm && s.storm && q.events > 0 && s.events > 0 {
			r = append(r, s.perEvent()/q.perEvent())
		}
	}
	if len(r) == 0 {
		return 0
	}
	slices.Sort(r)
	return r[len(r)/2]
}

func (st *storm) String() string {
	n := [2]int{}
	for _, w := range st.windows {
		if w.storm {
			n[1]++
		} else {
			n[0]++
		}
	}
	q, s := st.best(false), st.best(true)
	ratio := 0.0
	if q > 0 {
		ratio = s / q
	}
	return fmt.Sprintf("sent SIGUSR1 %d SIGUSR2 %d SIGWINCH %d in %.1fs of storm at %d/s; handlers saw SIGUSR1 %d SIGUSR2 %d in %d calls; "+
		"CPU/event quiet %.0f ns storm %.0f ns (best of %d and %d windows of %v) ratio %.2f, paired median %.2f; "+
		"idle %v: CPU quiet %v storm %v, loops quiet %d storm %d, %d signals handled",
		st.sent1, st.sent2, st.sent, st.onTime.Seconds(), st.rate, st.usr1.Load(), st.usr2.Load(), st.calls.Load(),
		q, s, n[0], n[1], st.window, ratio, st.pairedMedian(),
		st.idleWall, st.idleQuiet.Round(time.Microsecond), st.idleStorm.Round(time.Microsecond), st.idleLoopsQ, st.idleLoopsS, st.idleSaw)
}

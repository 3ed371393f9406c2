package loop

import (
	"fmt"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
)

// maxSignal bounds signal numbers (HAProxy's MAX_SIGNAL).
const maxSignal = 256

// SignalFunc handles a signal: count is the number of deliveries coalesced
// into this call.
type SignalFunc func(sig syscall.Signal, count int)

// SignalHandler is one signal registration (HAProxy: struct sig_handler):
// a function to call or a task to wake. [Loop.AddSignalHandler] returns
// it; Remove undoes it.
type SignalHandler struct {
	s       *signals
	sig     syscall.Signal
	fn      SignalFunc
	task    *Task
	removed atomic.Bool
}

// signals is the loop's signal queue (HAProxy: signal_queue and
// signal_state): the distinct pending signals in first-arrival order, a
// count per signal, and the handlers of each signal in registration order.
type signals struct {
	mu       sync.Mutex
	queue    []syscall.Signal
	count    [maxSignal]int
	handlers [maxSignal][]*SignalHandler // replaced, never changed in place
	pending  atomic.Int32
	notified [maxSignal]bool

	ch      chan os.Signal
	quit    chan struct{}
	wg      sync.WaitGroup
	running bool
	l       *Loop
}

func (s *signals) init() {
	s.queue = make([]syscall.Signal, 0, maxSignal)
	s.ch = make(chan os.Signal, maxSignal)
}

func (s *signals) isPending() bool { return s.pending.Load() != 0 }

// HandleSignal registers f for sig, for the loop's lifetime; signal 0 is
// the internal signal raised by soft stop. A real signal is caught from
// now on through os/signal: its default action, such as exiting, does
// not happen while the loop runs, and comes back once Run has returned
// (os/signal's Stop). Handlers run on thread 0, in registration order,
// once per pass for any number of deliveries.
func (l *Loop) HandleSignal(sig syscall.Signal, f SignalFunc) error {
	_, err := l.AddSignalHandler(sig, f)
	return err
}

// AddSignalHandler registers f for sig as HandleSignal does and returns
// the registration, whose Remove unregisters it: for handlers that live
// shorter than the loop, such as one per listener.
func (l *Loop) AddSignalHandler(sig syscall.Signal, f SignalFunc) (*SignalHandler, error) {
	if f == nil {
		return nil, fmt.Errorf("%w: nil handler for signal %d", ErrBadConfig, sig)
	}
	return l.sig.add(&SignalHandler{sig: sig, fn: f})
}

// SignalTask registers t to be woken with WokenSignal when sig arrives.
func (l *Loop) SignalTask(sig syscall.Signal, t *Task) error {
	if t == nil {
		return fmt.Errorf("%w: nil task for signal %d", ErrBadConfig, sig)
	}
	_, err := l.sig.add(&SignalHandler{sig: sig, task: t})
	return err
}

func (s *signals) add(h *SignalHandler) (*SignalHandler, error) {
	sig := h.sig
	if sig < 0 || sig >= maxSignal {
		return nil, fmt.Errorf("%w: signal %d out of range", ErrBadConfig, sig)
	}
	h.s = s
	s.mu.Lock()
	defer s.mu.Unlock()
	// Appending never touches the elements a pass is reading: those lie
	// below the length it took.
	s.handlers[sig] = append(s.handlers[sig], h)
	if sig != 0 && !s.notified[sig] {
		s.notified[sig] = true
		signal.Notify(s.ch, sig)
	}
	return h, nil
}

// Remove unregisters h (HAProxy: signal_unregister_handler), so that a
// program adding and dropping handlers does not accumulate them. A later
// pass does not call or wake it, nor does the current pass if it has not
// reached h yet; only a call already under way on thread 0 when another
// goroutine calls Remove may finish after it. The signal stays caught
// with no handler until Run returns (its default action does not come
// back before). Safe from any goroutine and from a handler; removing
// twice, or a nil handler, does nothing.
func (h *SignalHandler) Remove() {
	if h == nil || h.removed.Swap(true) {
		return
	}
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := s.handlers[h.sig]
	if i := slices.Index(hs, h); i >= 0 {
		// A new slice: a pass may be reading the old one outside the lock.
		s.handlers[h.sig] = slices.Concat(hs[:i], hs[i+1:])
	}
}

// Raise queues sig as if it had been delivered (HAProxy: signal_handler),
// and wakes thread 0 if it sleeps. Signal 0 is only ever raised this way.
// Numbers outside 0..255, which no handler can be registered for, are
// ignored. Safe from any goroutine, including signal handlers.
func (l *Loop) Raise(sig syscall.Signal) {
	s := &l.sig
	if sig < 0 || sig >= maxSignal {
		return
	}
	s.mu.Lock()
	if s.count[sig] == 0 {
		s.queue = append(s.queue, sig)
		s.pending.Store(int32(len(s.queue)))
	}
	s.count[sig]++
	s.mu.Unlock()
	l.wakeThread(0)
}

// start runs the goroutine that turns os/signal deliveries into Raise.
func (s *signals) start(l *Loop) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.l = l
	s.quit = make(chan struct{})
	s.running = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			select {
			case v := <-s.ch:
				if n, ok := v.(syscall.Signal); ok {
					l.Raise(n)
				}
			case <-s.quit:
				return
			}
		}
	}()
}

// stop stops catching signals and ends the delivery goroutine.
func (s *signals) stop() {
	signal.Stop(s.ch)
	s.mu.Lock()
	running := s.running
	s.running = false
	s.mu.Unlock()
	if running {
		close(s.quit)
		s.wg.Wait()
	}
}

// processSignals runs the handlers of the pending signals (HAProxy:
// __signal_process_queue), on thread 0 only. The queue is scanned forward
// by index, so a signal raised by a handler during the pass (signal 0 from
// a soft stop, say) is handled in the same pass. A signal's count is taken
// before its handlers run, so a delivery during them queues it again
// rather than being lost.
func (l *Loop) processSignals(th *Thread) {
	s := &l.sig
	if !s.isPending() {
		return
	}
	for i := 0; ; i++ {
		s.mu.Lock()
		if i >= len(s.queue) {
			s.queue = s.queue[:0]
			s.pending.Store(0)
			s.mu.Unlock()
			return
		}
		sig := s.queue[i]
		n := s.count[sig]
		s.count[sig] = 0
		hs := s.handlers[sig]
		s.mu.Unlock()
		if n == 0 {
			continue
		}
		for _, h := range hs {
			if h.removed.Load() {
				continue
			}
			if h.fn != nil {
				h.fn(sig, n)
			} else {
				th.Wakeup(h.task, WokenSignal)
			}
		}
	}
}

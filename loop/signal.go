package loop

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
)

// maxSignal bounds signal numbers (HAProxy's MAX_SIGNAL).
const maxSignal = 256

// SignalFunc handles a signal: count is the number of deliveries coalesced
// into this call.
type SignalFunc func(sig syscall.Signal, count int)

type sigHandler struct {
	fn   SignalFunc
	task *Task
}

// signals is the loop's signal queue (HAProxy: signal_queue and
// signal_state): the distinct pending signals in first-arrival order, a
// count per signal, and the handlers of each signal in registration order.
type signals struct {
	mu       sync.Mutex
	queue    []syscall.Signal
	count    [maxSignal]int
	handlers [maxSignal][]sigHandler
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

// HandleSignal registers f for sig; signal 0 is the internal signal raised
// by soft stop. A real signal is caught from now on through os/signal
// (its default action, such as exiting, no longer happens). Handlers run
// on thread 0, in registration order, once per pass for any number of
// deliveries.
func (l *Loop) HandleSignal(sig syscall.Signal, f SignalFunc) error {
	if f == nil {
		return fmt.Errorf("%w: nil handler for signal %d", ErrBadConfig, sig)
	}
	return l.sig.add(sig, sigHandler{fn: f})
}

// SignalTask registers t to be woken with WokenSignal when sig arrives.
func (l *Loop) SignalTask(sig syscall.Signal, t *Task) error {
	if t == nil {
		return fmt.Errorf("%w: nil task for signal %d", ErrBadConfig, sig)
	}
	return l.sig.add(sig, sigHandler{task: t})
}

func (s *signals) add(sig syscall.Signal, h sigHandler) error {
	if sig < 0 || sig >= maxSignal {
		return fmt.Errorf("%w: signal %d out of range", ErrBadConfig, sig)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[sig] = append(s.handlers[sig], h)
	if sig != 0 && !s.notified[sig] {
		s.notified[sig] = true
		signal.Notify(s.ch, sig)
	}
	return nil
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
			if h.fn != nil {
				h.fn(sig, n)
			} else {
				th.Wakeup(h.task, WokenSignal)
			}
		}
	}
}

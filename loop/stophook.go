package loop

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// ErrStopped is returned when something is registered on a loop whose
// threads have already left Run (or that was closed), and wrapped by
// errors that packages built on the loop report for what its stop closed.
var ErrStopped = errors.New("loop: stopped")

// stopHook is one function registered with OnStop.
type stopHook struct {
	f       func(th *Thread)
	removed atomic.Bool
}

// stopHooks is the loop's list of stop hooks. Once the threads have left
// Run (or Close was called) the list is frozen: done is set, and OnStop
// refuses new hooks from then on.
type stopHooks struct {
	mu    sync.Mutex
	hooks []*stopHook
	done  bool
	once  sync.Once
	run   []*stopHook // the frozen list
}

// OnStop registers f to run once on every thread of the loop when the
// threads have stopped serving: after all of them have left their run
// loop (soft stop complete, hard stop, or a poller error), each thread
// calls the hooks, in registration order, on its own goroutine, with its
// poller and fd table handle still open, before Run releases them. No
// task, tasklet or fd callback runs any more by then, on any thread, so a
// hook can close what it finds on its thread without racing with the
// loop; the hooks of different threads run at the same time. For a loop
// that is closed without being run, Close calls the hooks for each thread
// in turn on its own goroutine.
//
// This is how a package built on the loop closes the fds it still has
// when the loop is stopped hard, which the loop cannot do for it.
//
// The returned function removes the hook: it is not called after that
// (one already running finishes). OnStop fails with ErrStopped once the
// hooks have started to run. Safe from any goroutine, hooks included.
func (l *Loop) OnStop(f func(th *Thread)) (remove func(), err error) {
	if f == nil {
		return nil, fmt.Errorf("%w: nil stop hook", ErrBadConfig)
	}
	s := &l.stops
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return nil, ErrStopped
	}
	h := &stopHook{f: f}
	s.hooks = append(s.hooks, h)
	return func() {
		h.removed.Store(true)
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, x := range s.hooks {
			if x == h {
				s.hooks = append(s.hooks[:i], s.hooks[i+1:]...)
				break
			}
		}
	}, nil
}

// freeze stops OnStop from registering more hooks and returns the list
// to run, the same for every caller.
func (s *stopHooks) freeze() []*stopHook {
	s.once.Do(func() {
		s.mu.Lock()
		s.done = true
		s.run = append([]*stopHook(nil), s.hooks...)
		s.mu.Unlock()
	})
	return s.run
}

// runStopHooks runs the frozen hooks for th, skipping removed ones.
func (th *Thread) runStopHooks() {
	for _, h := range th.l.stops.freeze() {
		if !h.removed.Load() {
			h.f(th)
		}
	}
}

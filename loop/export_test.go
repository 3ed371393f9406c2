package loop

import (
	"reflect"
	"strings"
	"syscall"

	"github.com/evpoll/evpoll/poller"
)

// Test hooks into the loop's internals.

type Step = step

const (
	StepExpire  = stepExpire
	StepTasks   = stepTasks
	StepSignals = stepSignals
	StepStop    = stepStop
	StepKilled  = stepKilled
	StepDecide  = stepDecide
	StepPoll    = stepPoll
	StepLoops   = stepLoops
)

func (l *Loop) SetTrace(f func(tid int, s Step)) { l.trace = f }

func (th *Thread) Wakes() uint32        { return th.wakes.Load() }
func (th *Thread) WakeFD() int          { return th.wk.rfd }
func (l *Loop) SleepingMask() uint64    { return l.sleeping.Load() }
func (l *Loop) StoppingMask() uint64    { return l.stopMask.Load() }
func (th *Thread) HasTasks() bool       { return th.hasTasks() }
func (th *Thread) ProcessRunnable()     { th.processRunnableTasks() }
func (th *Thread) WakeExpired()         { th.wakeExpiredTasks() }
func (th *Thread) NextTimerExpiry() any { return th.nextTimerExpiry() }
func (th *Thread) Decide() bool         { return th.decide() }
func (l *Loop) SignalCount(sig int) int {
	l.sig.mu.Lock()
	defer l.sig.mu.Unlock()
	return l.sig.count[sig]
}

type syscallSignal = syscall.Signal

// backendName returns the package path of a poller's type, which names its
// backend.
func backendName(p poller.Poller) string {
	s := reflect.TypeOf(p).Elem().PkgPath()
	s = s[strings.LastIndex(s, "/")+1:]
	if s == "selectpoll" {
		return "select"
	}
	return s
}

// SignalHandlers returns how many handlers sig has.
func (l *Loop) SignalHandlers(sig int) int {
	l.sig.mu.Lock()
	defer l.sig.mu.Unlock()
	return len(l.sig.handlers[sig])
}

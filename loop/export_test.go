package loop

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

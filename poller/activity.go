package poller

import (
	"fmt"
	"io"
	"strings"
	"sync/atomic"
)

// Activity holds one thread's activity counters, with the names of HAProxy
// 2.2's "show activity" (struct activity), plus evpoll's own
// poll_stale_fd and poll_err_fd. Counters are 32-bit and wrap. They
// are updated by the owning thread and may be read from any goroutine.
type Activity struct {
	CtxSw      atomic.Uint32 // task and tasklet executions
	TaskSw     atomic.Uint32 // tasks moved from a run queue to a task list
	EmptyRQ    atomic.Uint32 // runnable-task processing found nothing
	LongRQ     atomic.Uint32 // runnable-task processing left work behind
	Loops      atomic.Uint32 // run-loop iterations
	WakeTasks  atomic.Uint32 // pending work prevented sleeping
	WakeSignal atomic.Uint32 // the signal queue was processed
	PollIO     atomic.Uint32 // poll cycles that returned events
	PollExp    atomic.Uint32 // the next timer had already expired when computing the timeout
	PollDropFD atomic.Uint32 // local update entries for closed fds dropped
	PollDeadFD atomic.Uint32 // events reported for closed fds
	PollSkipFD atomic.Uint32 // events or entries for fds of other threads skipped
	// PollStaleFD counts events whose registration generation no longer
	// matches the fd's (an earlier user of the same fd number). evpoll
	// only; HAProxy 2.2 has no generations.
	PollStaleFD atomic.Uint32
	// PollErrFD counts fds the kernel refused to watch, whose owners got
	// an error event instead (see [Context.FailFD]). evpoll only.
	PollErrFD atomic.Uint32
	// AvgLoopUS is the sliding average, over 1024 cycles, of the time in
	// microseconds a thread spends between two kernel waits (HAProxy:
	// avg_loop_us). It is an average, not a counter.
	AvgLoopUS atomic.Uint32
	// IdlePct is the share of time, in percent, the thread spent in the
	// kernel wait, measured over at least half a second (HAProxy:
	// idle_pct, shown by "show info" rather than "show activity").
	IdlePct    atomic.Uint32
	Accepted   atomic.Uint32 // connections accepted by this thread
	FDTakeover atomic.Uint32 // successful fd takeovers
}

// counter is one named counter value.
type counter struct {
	Name  string
	Value uint32
}

// counters returns the counters in "show activity" order.
func (a *Activity) counters() []counter {
	return []counter{
		{"ctxsw", a.CtxSw.Load()},
		{"tasksw", a.TaskSw.Load()},
		{"empty_rq", a.EmptyRQ.Load()},
		{"long_rq", a.LongRQ.Load()},
		{"loops", a.Loops.Load()},
		{"wake_tasks", a.WakeTasks.Load()},
		{"wake_signal", a.WakeSignal.Load()},
		{"poll_io", a.PollIO.Load()},
		{"poll_exp", a.PollExp.Load()},
		{"poll_drop_fd", a.PollDropFD.Load()},
		{"poll_dead_fd", a.PollDeadFD.Load()},
		{"poll_skip_fd", a.PollSkipFD.Load()},
		{"poll_stale_fd", a.PollStaleFD.Load()},
		{"poll_err_fd", a.PollErrFD.Load()},
		{"avg_loop_us", a.AvgLoopUS.Load()},
		{"accepted", a.Accepted.Load()},
		{"fd_takeover", a.FDTakeover.Load()},
	}
}

// WriteActivity prints counters of one or more threads as "show activity"
// does: "name: total" with one thread, "name: total [ t0 t1 ... ]" with
// several. Totals are 32-bit and wrap like the counters; avg_loop_us, an
// average, shows the rounded mean of the threads instead of a sum.
func WriteActivity(w io.Writer, threads ...*Activity) error {
	if len(threads) == 0 {
		return nil
	}
	per := make([][]counter, len(threads))
	for i, a := range threads {
		per[i] = a.counters()
	}
	// Build the whole dump first so that a failing writer is always
	// reported, whichever part of a line it fails on.
	var sb strings.Builder
	for j := range per[0] {
		var total uint32
		for i := range per {
			total += per[i][j].Value
		}
		if per[0][j].Name == "avg_loop_us" {
			var sum uint64
			for i := range per {
				sum += uint64(per[i][j].Value)
			}
			n := uint64(len(per))
			total = uint32((sum + n/2) / n)
		}
		fmt.Fprintf(&sb, "%s: %d", per[0][j].Name, total)
		if len(per) > 1 {
			sb.WriteString(" [")
			for i := range per {
				fmt.Fprintf(&sb, " %d", per[i][j].Value)
			}
			sb.WriteString(" ]")
		}
		sb.WriteByte('\n')
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

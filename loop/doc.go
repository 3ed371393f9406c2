// Package loop is HAProxy's run loop in Go: polling threads with their
// poller instances, tasks and tasklets with run queues, timers in a wait
// queue, signals, job counters and soft and hard stop, on top of the
// poller and fdtable packages.
//
// # The loop
//
// [Loop.Run] starts one goroutine per thread, each locked to its OS
// thread and polling its own instance of one backend (chosen once, on
// thread 0). After one clock update, every iteration of a thread does, in
// the order of the HAProxy version this package follows (between 2.1 and
// 2.2, HAProxy's run_poll_loop):
//
//  1. wake the tasks whose timers expired (wake_expired_tasks);
//  2. run a budget of tasks and tasklets (process_runnable_tasks);
//  3. on thread 0 only, run the handlers of pending signals
//     (signal_process_queue);
//  4. the stop check (see below);
//  5. leave if the loop was killed twice (hard stop);
//  6. the sleep decision: queued work means no sleep (wake_tasks), so does
//     a pending signal on thread 0 (wake_signal); otherwise the thread sets
//     its bit in the sleeping mask shared by all threads, checks again for
//     work, and takes the bit back if some appeared (wake_tasks);
//  7. poll until the next timer (or not at all if it must not sleep);
//  8. count the iteration (loops).
//
// A thread that queues work for sleeping threads, or changes the polling of
// an fd that they own, clears the sleeping bit of one of them and writes to
// its wake-up fd (an eventfd on Linux, a pipe elsewhere), which is in the fd
// table like any other fd. A second wake-up before that thread runs writes
// nothing more, since the bit is already clear.
//
// # Stopping
//
// One change over that HAProxy version, taken from 2.2: the loop does not
// end as soon as one thread sees no jobs left, since that thread would
// stop serving its fds while the others still run. [Loop.SoftStop] turns
// busy polling off and raises the internal signal 0, whose handlers close
// listeners; every thread then adds its bit to a stopping mask (the first
// to do so wakes the others), and once every thread is in the mask and
// [Loop.Jobs] minus [Loop.UnstoppableJobs] is 0, all threads leave
// together. [Loop.Kill] twice, or [Loop.Stop], makes every thread leave at
// its next iteration whatever the jobs. However the threads leave, once
// all of them have, each calls the stop hooks registered with
// [Loop.OnStop] (a connection layer closes the sockets it still has
// there, so that a hard stop leaks no fd); Run then releases the
// pollers, the wake-up fds and the signal handling before it returns.
//
// # Writing a server
//
// Create the loop with [New], put the listening socket in [Loop.Table]
// through a thread's [Thread.FD] handle with an fd callback, and count it
// as a job with [Loop.AddJobs]. The callback accepts connections and hands
// each to a thread (fdtable.Thread.Insert with that thread's [Thread.Bit],
// then WantRecv); the connection's own callback then runs on that thread
// and reads, writes and closes without locks. Register [Loop.HandleSignal]
// for signal 0 to close the listener and release its job on soft stop, and
// release each connection's job when it closes. Timers and deferred work
// are [Task]s (created with [Loop.NewTask], woken with [Thread.Wakeup] or
// [Loop.Wakeup], re-armed by their handler with [Task.SetExpire]) and
// [Tasklet]s. examples/echo is such a server.
//
// # Wait queue
//
// Timers are kept in a 4-ary heap per thread (and one under a lock for
// tasks bound to several threads), ordered by wrap-aware comparison of
// 32-bit millisecond ticks, with each task's position stored in the task
// and the keys stored in the heap's array. A queued task's key is a lower
// bound of its date: pushing a timer back costs nothing until the old key
// is reached, when the task is re-filed without being woken.
//
// The heap was chosen over a hierarchical timing wheel (256 one-ms slots
// plus four levels of 64, kept in the tests as the alternative) by
// BenchmarkTimers, which runs both in the same process with n timers spread
// over 4.6 hours: go test -run XXX -bench Timers -benchtime 200000x
// -count 5 ./loop/, on the 2-core development VM. Medians in ns per
// operation, 0 allocations for every operation of both; "expire" is one
// timer reaching its date and its task woken into the run queue:
//
//	timers  queue  arm  re-arm later  re-arm earlier  cancel  expire
//	10k     heap    15       10             20           12     122
//	10k     wheel   10        7             27            4     130
//	100k    heap    14       13            181           13     346
//	100k    wheel   11       13            522            6     508
//	1M      heap    32       15            667           36    1536
//	1M      wheel   30       42            366            4    1470
//
// At 100k the heap meets the 200 ns target for every operation but expire
// (346 ns, 1.7 times the target): removing the first of 100k nodes sifts
// through about eight levels, each a cache miss. The wheel's O(1) list
// operations do not save it: its timers are moved down a level up to three
// times before they fire, each move a miss too, and it reports only a
// lower bound for timers more than 256 ms away, which costs extra
// wake-ups. Run-to-run spread on this shared machine is up to 3 times the
// median for the 100k and 1M rows.
package loop

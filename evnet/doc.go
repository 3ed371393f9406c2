// Package evnet is a connection layer on package loop: listeners that
// accept TCP and Unix stream connections and spread them over the loop's
// threads, buffered connections driven by callbacks with back-pressure,
// half-close and timeouts on the loop's timers, and non-blocking outbound
// dials.
//
// # Threads
//
// Every connection belongs to one loop thread for its whole life: its fd is
// in the loop's fd table for that thread alone, and every [Handler]
// callback, [Conn.Write], [Conn.Close] and the timeout setters run on it
// without locks. The one exception is [Conn.AsyncWrite], safe from any
// goroutine: it queues a copy of the data and wakes the owning thread
// through a tasklet.
//
// A listener accepts on one thread (thread 0 unless [Options.Thread] says
// otherwise) and hands each new connection to the least loaded of two
// threads taken in turn from the listener's thread mask, through a
// per-thread accept queue drained by a tasklet of the receiving thread.
// This is the scheme of HAProxy's listener_accept: with one listening
// socket the kernel's accept queue is never split, so a slow thread cannot
// strand connections that another thread could serve, and the
// two-choices pick keeps the live connection counts within one of each
// other while connections stay open. One listener per thread with
// SO_REUSEPORT, the alternative, lets the kernel hash connections onto
// sockets without regard to load; it is offered through
// [Options.ReusePort] (with [Options.Thread] and [Options.Threads] to
// bind each listener to one thread) and for programs that run several
// processes. BenchmarkSpread measures both with 1000 connections on two
// threads: the busier thread's count over the other's is 1.000 with the
// accept queues, up to 1.10 with SO_REUSEPORT (worst of 20 runs;
// go test -run '^$' -bench Spread -benchtime 20x ./evnet/), and the
// queues also follow load as connections close, which a hash cannot.
//
// # Reading and writing
//
// The fd callback reads into a buffer of the thread (64 KiB, reused for
// every connection of that thread) and passes what it read to
// [Handler.OnData]; the slice is valid only during the call. Write tries
// the socket at once and keeps what the kernel did not take in the
// connection's output buffer, which is written when the socket becomes
// writable. When the output buffer holds more than the high-water mark,
// reading stops until it is drained; [Handler.OnWritable] then runs.
//
// A peer's FIN reaches a handler that implements [EOFHandler] as OnEOF,
// and the connection stays open for writing until it is closed or its
// write side is shut with [Conn.CloseWrite]; other handlers see the
// connection closed with io.EOF once its output is written.
//
// # Errors
//
// The error given to [Handler.OnClose] is nil for a local Close, io.EOF for
// an orderly close by the peer, and otherwise wraps the failing system
// call (errors.Is(err, syscall.ECONNRESET) works) or one of
// [ErrReadTimeout], [ErrWriteTimeout], [ErrIdleTimeout] and
// [ErrConnectTimeout], which wrap os.ErrDeadlineExceeded.
//
// # Performance
//
// "pollbench -workload echo" runs the echo comparison: a client process
// pinned to the other core (taskset -c 1) runs closed-loop 64-byte round
// trips on C connections for 2 s against an evnet echo server and, in the
// same run, against a net-package server with a goroutine per connection;
// the figure is the server process's CPU time (getrusage) per round trip.
// BenchmarkEchoCPU is the same measurement as a Go benchmark. "go run
// ./cmd/pollbench -workload echo -count 5" on the 2-core development VM,
// loaded by other jobs, medians of the paired ratios to net (the target
// for CPU is at most 0.75):
//
//	C     threads  CPU/rtt vs net  rtt/s vs net
//	10    1        0.63            1.13
//	10    2        0.79            0.96
//	100   1        0.70            1.06
//	100   2        0.79            0.94
//	1000  1        0.69            1.10
//	1000  2        0.90            1.05
//
// One loop thread meets the target at every C; two do not. With the
// client on one of the two cores the two loop threads mostly share the
// other: each finds fewer connections ready per kernel wait, blocks about
// twice as often per round trip as one thread serving them all, and the
// process makes about twice the voluntary context switches per round
// trip. No wake-up crosses threads once connections are open. Run-to-run
// spread on this shared machine reaches half the median for the
// two-thread rows.
//
// # Stopping
//
// A listener and every open connection count as one job of the loop. On a
// soft stop (loop.Loop.SoftStop) listeners close, so new connections are
// refused, while open connections keep working until they close; the loop
// ends when the last one has. When the loop stops hard instead (or is
// closed without running), its stop hook (loop.Loop.OnStop) closes on
// each thread whatever is still open there: listeners, connections not
// yet handed to their thread, and open connections, whose OnClose gets
// [ErrLoopStopped]. Listen and Dial on a stopped loop fail with it.
package evnet

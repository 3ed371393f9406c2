// Command echo is a TCP echo server written directly on the loop and
// fdtable packages: a listener on thread 0 hands each accepted connection
// to the next thread through that thread's accept queue, and the
// connection is then read and written by its thread alone.
//
// Usage:
//
//	go run ./examples/echo [-addr 127.0.0.1:0] [-threads N] [-poller name]
//
// The first line on standard output is "listening on HOST:PORT". Signals
// follow HAProxy's defaults: SIGUSR1 starts a soft stop (the listener
// closes at once, open connections keep being served, and the process
// exits with status 0 when the last one closes); SIGTERM and SIGINT stop
// at once, with status 0, even with connections open; SIGHUP writes the
// threads' activity counters to standard error in the format of HAProxy's
// "show activity". A bad flag exits with status 2, a run-time error with 1.
package main

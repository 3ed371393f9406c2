// Command pollbench compares evpoll's polling backends with loops written
// without evpoll, on the machine it runs on, and says which to pick.
//
// It runs the workload of libevent's bench.c (N registered fds, M of them
// made readable, then a chain of small writes in which every read event
// triggers the next write) on every enabled backend and on three
// baselines: raw-epoll (Linux) and raw-poll, the same workload written
// directly on golang.org/x/sys/unix, and netpoller, Go's runtime
// netpoller with one goroutine per fd. Timings on a shared machine only
// compare within one run, so every point is measured in -count paired
// repeats, each measuring every backend and the baseline once in turn,
// and each row's ratio to the -baseline is taken repeat by repeat; the
// output gives the median ratio and its range.
//
// Usage:
//
//	pollbench [-backends all] [-baseline raw-epoll] [-kind socketpair]
//	          [-fds 100,1000,10000] [-active 1,100] [-writes 100]
//	          [-count 5] [-rounds 200] [-warmup 5] [-maxtime 200ms]
//	          [-format text|csv|json|bench] [-plot FILE.svg|FILE.png] [-list]
//	pollbench -workload echo [-conns 10,100,1000] [-threads 1,2]
//	          [-duration 2s] [-count 5] [-format text|csv|json|bench]
//
// The text output is a table per -active value (rows: backends, columns:
// fds) ending with a line "verdict: ..." that names the fastest backend
// per range of fds and says whether it beat each baseline beyond the
// noise, that is in every repeat. -format bench writes Go benchmark
// format for "benchstat -col /backend"; -format json writes every sample
// with the machine's description.
//
// -workload echo compares servers instead of backends: an evnet echo
// server on each -threads count of loop threads against a Go net server
// with a goroutine per connection, all in this process, while a client
// process (pollbench itself, started again, pinned to CPU 1 with taskset
// when there are two CPUs or more) keeps -conns connections busy with
// 64-byte round trips for -duration. It reports round trips per second
// and the server's CPU time per round trip (getrusage over the client's
// window), each with its ratio to net paired repeat by repeat, and a
// verdict on the CPU target of at most 0.75x net. The backend is the
// loop's default (EVPOLL_POLLER chooses another). The chain flags do not
// apply to it, nor its flags to the chain workload: giving one is a bad
// flag.
//
// -list prints the registered backends in HAProxy's "haproxy -vv" format,
// the error of each backend whose test failed, and the baselines.
// EVPOLL_POLLER and EVPOLL_DISABLE narrow "-backends all" as they narrow
// backend selection. A bad flag is named once on standard error and the
// exit status is 2; a failed measurement exits 1 after the output.
package main

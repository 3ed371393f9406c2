// Command pollbench compares evpoll's polling backends on the machine it
// runs on.
//
// It runs the workload of libevent's bench.c (N registered socket fds, M
// of them made readable, then a chain of one-byte writes in which every
// read event triggers the next write) on every enabled backend and on Go's
// runtime netpoller (one goroutine per fd), which serves as the baseline:
// each result is given as time per round and as a ratio to the baseline
// measured in the same run, since timings on a shared machine only compare
// within one run.
//
// Usage:
//
//	pollbench [-backends all] [-fds 100,1000,10000] [-active 1,100]
//	          [-writes 100] [-rounds 100] [-warmup 10] [-maxtime 2s]
//	          [-format text|csv|json|gobench] [-list]
//
// -list prints the registered backends in HAProxy's "haproxy -vv" format.
// EVPOLL_POLLER and EVPOLL_DISABLE narrow "-backends all" as they narrow
// backend selection. A bad flag is named on standard error and the exit
// status is 2; a failed measurement exits 1.
package main

// Package chain implements the workload of libevent's bench.c for evpoll's
// benchmarks: N registered fds, M made readable at the start of a round,
// and a chain of small writes in which every read event writes to the next
// fd until the round's writes are used up.
//
// The same workload runs on an evpoll backend ([New]) and on the baselines
// evpoll is measured against ([NewBaseline]): Go's runtime netpoller with
// one goroutine per fd, and loops written directly on golang.org/x/sys/unix
// over poll(2) and, on Linux, epoll(7), as tight as a careful programmer
// would write them. The fds are socket pairs, pipes or (on Linux) eventfds
// ([Kind]). It is shared by conformance.Benchmark and cmd/pollbench.
package chain

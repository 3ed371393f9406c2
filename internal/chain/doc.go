// Package chain implements the workload of libevent's bench.c for evpoll's
// benchmarks: N registered fds, M made readable at the start of a round,
// and a chain of one-byte writes in which every read event writes to the
// next fd until the round's writes are used up. It drives either an evpoll
// backend or, as a baseline, Go's runtime netpoller with one goroutine per
// fd. It is shared by conformance.Benchmark and cmd/pollbench.
package chain

// Package bench implements the pollbench command: it runs the bench.c
// workload (see internal/chain) on every selected backend and on Go's
// runtime netpoller, and prints the time per round with its ratio to the
// baseline measured in the same run.
package bench

// Package echobench measures echo servers the way issue-style echo
// comparisons are run here: a client in a separate process (pinned to
// CPU 1 when taskset exists and the machine has two CPUs or more) keeps
// a number of connections busy with 64-byte round trips for a fixed
// time, and the server process's CPU time over that window is read with
// getrusage. It also has the reference server, Go's net package with a
// goroutine per connection. evnet's BenchmarkEchoCPU and
// "pollbench -workload echo" both measure through it.
//
// A program that measures must call [ClientMain] first thing in main (or
// TestMain): the client process is the same executable, started again
// with an environment variable that makes ClientMain run the client and
// exit.
package echobench

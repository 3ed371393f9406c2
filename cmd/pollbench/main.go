package main

import (
	"os"

	"github.com/evpoll/evpoll/cmd/pollbench/internal/bench"
	"github.com/evpoll/evpoll/internal/echobench"
)

func main() {
	// -workload echo starts this program again as its echo client.
	echobench.ClientMain()
	os.Exit(bench.Main(os.Stdout, os.Stderr, os.Args[1:]))
}

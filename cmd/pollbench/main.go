package main

import (
	"os"

	"github.com/evpoll/evpoll/cmd/pollbench/internal/bench"
)

func main() {
	os.Exit(bench.Main(os.Stdout, os.Stderr, os.Args[1:]))
}

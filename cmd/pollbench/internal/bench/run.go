package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/internal/chain"
	"github.com/evpoll/evpoll/poller"
	_ "github.com/evpoll/evpoll/pollers" // every backend of this GOOS
)

// Main runs pollbench with args and returns the exit status: 0 on
// success, 2 on bad usage, 1 when a measurement (or writing the output)
// failed. Every error is printed once, on stderr.
func Main(stdout, stderr io.Writer, args []string) int {
	err := run(stdout, stderr, args)
	var ue usageError
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "pollbench: %v (see pollbench -h)\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "pollbench: %v\n", err)
		return 1
	}
}

func run(stdout, stderr io.Writer, args []string) error {
	o, err := parse(stderr, args)
	if err != nil {
		return err
	}
	if o.list {
		return writeList(stdout)
	}
	if o.workload == "echo" {
		return runEcho(stdout, o)
	}
	rep := &Report{
		Machine: thisMachine(), Kind: o.kind.String(), Writes: o.writes, Count: o.count,
		Baseline: o.baseline, FDs: o.fds, Active: o.active, Names: o.names,
	}
	merr := measureAll(o, rep)
	if err := write(stdout, o.format, rep); err != nil {
		return fmt.Errorf("writing the results: %w", err)
	}
	if o.plot != "" {
		if err := writePlot(o.plot, rep); err != nil {
			return fmt.Errorf("flag -plot: %w", err)
		}
	}
	if merr != nil {
		return fmt.Errorf("measurement failed: %w", merr)
	}
	return nil
}

// writeList prints the registry's listing, the error of every backend
// whose test failed, and the baselines.
func writeList(w io.Writer) error {
	tab := fdtable.New(0)
	if err := poller.WriteList(w, tab); err != nil {
		return err
	}
	for _, be := range poller.Backends() {
		if be.Test == nil {
			continue
		}
		if err := be.Test(tab); err != nil {
			fmt.Fprintf(w, "%s test: %v\n", be.Name, err)
		}
	}
	_, err := fmt.Fprintf(w, "Baselines: %s.\n", joinNames(chain.Baselines()))
	return err
}

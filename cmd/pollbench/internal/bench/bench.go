// Package bench implements the pollbench command.
package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
)

// Main runs pollbench with args and returns the exit status.
func Main(stdout, stderr io.Writer, args []string) int {
	if err := run(stdout, stderr, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "pollbench: %v\n", err)
		return 2
	}
	return 0
}

func run(stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("pollbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	list := fs.Bool("list", false, "print the available backends in haproxy -vv format and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	_ = list
	return poller.WriteList(stdout, fdtable.New(0))
}

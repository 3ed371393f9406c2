package bench

import (
	"flag"
	"slices"

	"github.com/evpoll/evpoll/fdtable"
)

// checkWorkload refuses an unknown -workload and a flag given for the
// other workload than the one selected.
func checkWorkload(fs *flag.FlagSet, workload string) error {
	var other []string
	switch workload {
	case "chain":
		other = echoOnly
	case "echo":
		other = chainOnly
	default:
		return badFlag("workload", "unknown workload %q (want chain or echo)", workload)
	}
	var err error
	fs.Visit(func(f *flag.Flag) {
		if err == nil && slices.Contains(other, f.Name) {
			err = badFlag(f.Name, "does not apply to -workload %s", workload)
		}
	})
	return err
}

// parseEcho checks the flags of -workload echo into o.
func parseEcho(o *options, v *flagValues) error {
	var err error
	if o.echo.conns, err = intList("conns", v.conns); err != nil {
		return err
	}
	if o.echo.threads, err = intList("threads", v.threads); err != nil {
		return err
	}
	if m := slices.Max(o.echo.threads); m > fdtable.MaxThreads {
		return badFlag("threads", "%d: a loop has at most %d threads", m, fdtable.MaxThreads)
	}
	o.echo.duration = v.duration
	switch {
	case o.echo.duration <= 0:
		return badFlag("duration", "%v: need a positive duration", o.echo.duration)
	case o.count < 1:
		return badFlag("count", "%d: need at least 1", o.count)
	case !slices.Contains(formats, o.format):
		return badFlag("format", "unknown format %q (want text, csv, json or bench)", o.format)
	}
	if o.format == "gobench" {
		o.format = "bench"
	}
	return nil
}

// Command soak runs the loop at the fd limit for a long time and checks
// that nothing is lost, duplicated or leaked.
//
// Pipe pairs are spread over the loop's threads. Each thread keeps a fixed
// number of messages moving between its own pipes (every message read is
// written on to another pipe, chosen at random), each message carrying its
// pipe's next sequence number, so a loss, a duplicate or a reordering is
// seen at once. Meanwhile every thread flips the read interest of random
// pipes off and on, closes pipes and opens new ones (the kernel hands the
// numbers out again) while messages are in flight, and arms and cancels
// timers at a fixed rate. Every -report interval it prints the events per
// second, the resident memory, the goroutine count and the open fds; at
// the end it drains every pipe, checks that each pipe's count matches, and
// that no fd is left open. It also samples the heap in use and the
// goroutine count: after the warm-up (the first fifth of the run, in
// events or in time) neither may exceed its warm-up level by more than a
// generous bound (the heap twice its warm-up level or 4 MB more, whichever
// is larger; the goroutines not at all).
//
// With -storm RATE, a child (this program re-executed) sends RATE signals
// a second to the soak: SIGUSR1 to the process, and SIGUSR2 and SIGWINCH
// to each of its threads in turn (so that the polling threads' waits are
// interrupted too). The loop handles SIGUSR1 and SIGUSR2; SIGWINCH is
// left to the Go runtime. The storm runs through the warm-up; after it,
// the storm is switched off and on every -storm-window, and the CPU time
// per event (user plus system, from getrusage) of each storm window is
// divided by that of the quiet window before it: the median of these
// ratios must be at most 2. At the end the messages stop and the threads
// sleep in their polls, which the storm now interrupts: after a quiet
// stretch the storm runs once more, and the threads may go round their
// loops at most once more per signal sent than in the quiet stretch (a
// thread that spins instead of sleeping goes round thousands of times).
// The loop's handlers must have seen no more signals than were sent
// (deliveries coalesce) but at least one per 10 ms of storm and some in
// every storm window, and any error (an EINTR reaching the loop's caller
// or the soak, say) fails the run.
//
// It exits 0 when everything held, 1 otherwise, 2 on a bad flag.
//
//	go run ./cmd/soak                     # at the fd hard limit, 10M events
//	go run ./cmd/soak -storm 5000         # the same under a signal storm
//	go run ./cmd/soak -fds 2000 -duration 20s
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	_ "github.com/evpoll/evpoll/pollers"
	"golang.org/x/sys/unix"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type options struct {
	fds      int
	events   int64
	duration time.Duration
	threads  int
	backend  string
	report   time.Duration
	inflight int
	timers   int
	storm    int
	window   time.Duration

	// Debugging only, left out of the usage text.
	leak    string        // "heap" or "goroutines": leak on purpose
	spin    time.Duration // busy work on every thread per storm signal
	nosleep time.Duration // no sleep on any thread for this long per signal
	memprof string        // heap profile written at the end
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.fds, "fds", 0, "pipe `fds` to keep open (0: the fd hard limit less 1000)")
	fs.Int64Var(&o.events, "events", 10_000_000, "stop after this many `events`")
	fs.DurationVar(&o.duration, "duration", 30*time.Minute, "stop after this long at most")
	fs.IntVar(&o.threads, "threads", 2, "polling `threads`")
	fs.StringVar(&o.backend, "poller", "", "polling `backend` (default: the best available)")
	fs.DurationVar(&o.report, "report", 10*time.Second, "print figures this often")
	fs.IntVar(&o.inflight, "inflight", 256, "messages kept moving per thread")
	fs.IntVar(&o.timers, "timers", 100_000, "timer arms and cancels per second, all threads")
	fs.IntVar(&o.storm, "storm", 0, "signals a second sent by a child during the run (0: none)")
	fs.DurationVar(&o.window, "storm-window", time.Second, "after the warm-up, switch the storm off and on this often")
	fs.StringVar(&o.leak, debugPrefix+"leak", "", "leak `heap` or `goroutines` on purpose")
	fs.DurationVar(&o.spin, debugPrefix+"spin", 0, "with -storm, burn this long on every thread per signal handled")
	fs.DurationVar(&o.nosleep, debugPrefix+"nosleep", 0, "with -storm, keep every thread from sleeping this long after each signal handled")
	fs.StringVar(&o.memprof, debugPrefix+"memprofile", "", "write a heap profile of every allocation to `file` at the end")
	fs.Usage = func() { usage(fs) }
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() != 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.fds < 0 || o.fds == 1 || o.fds == 2:
		return o, fmt.Errorf("-fds %d: want 0 or at least 4", o.fds)
	case o.events <= 0:
		return o, fmt.Errorf("-events %d: want > 0", o.events)
	case o.duration <= 0:
		return o, fmt.Errorf("-duration %v: want > 0", o.duration)
	case o.threads < 1 || o.threads > fdtable.MaxThreads:
		return o, fmt.Errorf("-threads %d: want 1..%d", o.threads, fdtable.MaxThreads)
	case o.report <= 0:
		return o, fmt.Errorf("-report %v: want > 0", o.report)
	case o.inflight < 1:
		return o, fmt.Errorf("-inflight %d: want >= 1", o.inflight)
	case o.timers < 0:
		return o, fmt.Errorf("-timers %d: want >= 0", o.timers)
	case o.storm < 0:
		return o, fmt.Errorf("-storm %d: want >= 0", o.storm)
	case o.window <= 0:
		return o, fmt.Errorf("-storm-window %v: want > 0", o.window)
	case o.leak != "" && o.leak != "heap" && o.leak != "goroutines":
		return o, fmt.Errorf("-%sleak %q: want heap or goroutines", debugPrefix, o.leak)
	}
	return o, nil
}

// debugPrefix starts the names of the flags left out of the usage text.
const debugPrefix = "debug-"

// usage prints the flags but the debugging ones.
func usage(fs *flag.FlagSet) {
	pub := flag.NewFlagSet("soak", flag.ContinueOnError)
	pub.SetOutput(fs.Output())
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.HasPrefix(f.Name, debugPrefix) {
			pub.Var(f.Value, f.Name, f.Usage)
		}
	})
	fmt.Fprintln(fs.Output(), "usage: soak [flags]")
	pub.PrintDefaults()
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == stormChildArg {
		return stormChild(args[1:], os.Stdin, stdout, stderr)
	}
	o, err := parse(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "soak:", err)
		}
		return 2
	}
	limit, err := raiseLimit()
	if err != nil {
		fmt.Fprintln(stderr, "soak:", err)
		return 1
	}
	if o.fds == 0 {
		o.fds = limit - 1000
	}
	if o.fds/2 < 2*o.threads {
		fmt.Fprintf(stderr, "soak: -fds %d: want at least 4 pipes per thread\n", o.fds)
		return 2
	}
	if o.fds+200 > limit {
		fmt.Fprintf(stderr, "soak: -fds %d: the fd limit is %d\n", o.fds, limit)
		return 2
	}
	var backend *poller.Backend
	if o.backend != "" {
		b, err := poller.Lookup(o.backend)
		if err != nil {
			fmt.Fprintln(stderr, "soak: -poller:", err)
			return 2
		}
		backend = &b
		if b.Name == "select" {
			// select cannot watch fds at or above FD_SETSIZE.
			limit = 1024
			if o.fds+200 > limit {
				fmt.Fprintf(stderr, "soak: -fds %d: select watches fds below 1024 only; use -fds 800 or less\n", o.fds)
				return 2
			}
		}
	}
	s, err := newSoak(o, limit, backend)
	if err != nil {
		fmt.Fprintln(stderr, "soak:", err)
		return 1
	}
	if err := s.run(stdout); err != nil {
		fmt.Fprintln(stderr, "soak: FAILED:", err)
		return 1
	}
	fmt.Fprintln(stdout, "soak: OK")
	return 0
}

// raiseLimit raises the soft fd limit to the hard one and returns it.
func raiseLimit() (int, error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
			return 0, fmt.Errorf("setrlimit: %w", err)
		}
	}
	if rl.Cur > 1<<20 {
		return 1 << 20, nil
	}
	return int(rl.Cur), nil
}

// binaryLE is the message encoding: one 8-byte sequence number.
var binaryLE = binary.LittleEndian

package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evpoll/evpoll/internal/chain"
	"github.com/evpoll/evpoll/poller"
)

// usageError is a bad flag or argument: exit status 2.
type usageError struct{ error }

func badFlag(name, format string, args ...any) error {
	return usageError{fmt.Errorf("flag -%s: %s", name, fmt.Sprintf(format, args...))}
}

// formats are the -format values; gobench is the old name of bench.
var formats = []string{"text", "csv", "json", "bench", "gobench"}

// options are the parsed flags.
type options struct {
	names    []string // what to measure, the baseline included, each once
	baseline string
	kind     chain.Kind
	fds      []int
	active   []int
	writes   int
	rounds   int
	warmup   int
	count    int
	maxTime  time.Duration
	format   string
	plot     string
	list     bool
	workload string
	echo     echoOptions
}

// echoOptions are the flags of -workload echo.
type echoOptions struct {
	conns    []int
	threads  []int
	duration time.Duration
}

// chainOnly and echoOnly are the flags that belong to one workload.
var (
	chainOnly = []string{"backends", "baseline", "kind", "fds", "active", "writes", "rounds", "warmup", "maxtime", "plot"}
	echoOnly  = []string{"conns", "threads", "duration"}
)

// defaultBaseline is the fastest loop this system has.
func defaultBaseline() string { return chain.Baselines()[0] }

func newFlagSet(o *flagValues) *flag.FlagSet {
	fs := flag.NewFlagSet("pollbench", flag.ContinueOnError)
	fs.StringVar(&o.backends, "backends", "all", "comma-separated backends and baselines to measure; \"all\" is every enabled backend (EVPOLL_POLLER and EVPOLL_DISABLE narrow it) and every baseline ("+strings.Join(chain.Baselines(), ", ")+")")
	fs.StringVar(&o.baseline, "baseline", defaultBaseline(), "what every row's ratio is computed against: a baseline or a backend, always measured")
	fs.StringVar(&o.kind, "kind", "socketpair", "what the fds are: socketpair, pipe or eventfd (Linux only)")
	fs.StringVar(&o.fds, "fds", "100,1000,10000", "comma-separated numbers of registered fds (the table's columns)")
	fs.StringVar(&o.active, "active", "1,100", "comma-separated numbers of fds made readable at the start of a round (one table each); none may exceed the smallest -fds")
	fs.IntVar(&o.writes, "writes", 100, "chained writes per round")
	fs.IntVar(&o.rounds, "rounds", 200, "measured rounds per sample, at most (see -maxtime)")
	fs.IntVar(&o.warmup, "warmup", 5, "unmeasured rounds before each sample, at most (and at most half of -maxtime once one is done)")
	fs.IntVar(&o.count, "count", 5, "paired repeats: each repeat measures every backend and the baseline once, in turn")
	fs.DurationVar(&o.maxTime, "maxtime", 200*time.Millisecond, "stop a sample after this long, once 3 rounds are done")
	fs.StringVar(&o.format, "format", "text", "output format: text (a table per -active value and a verdict), csv, json (every sample, machine info) or bench (Go benchmark format, for benchstat -col /backend)")
	fs.StringVar(&o.plot, "plot", "", "also draw time per round against fds to this file, .svg or .png")
	fs.StringVar(&o.workload, "workload", "chain", "what to measure: chain (libevent's bench.c on every backend) or echo (an evnet echo server against a Go net server, 64-byte round trips from a client process)")
	fs.StringVar(&o.conns, "conns", "10,100,1000", "echo: comma-separated numbers of client connections")
	fs.StringVar(&o.threads, "threads", "1,2", "echo: comma-separated numbers of evnet loop threads")
	fs.DurationVar(&o.duration, "duration", 2*time.Second, "echo: how long the client runs round trips in each sample")
	fs.BoolVar(&o.list, "list", false, "print the registered backends in haproxy -vv format, each failed test's error and the baselines, and exit")
	return fs
}

// flagValues are the flags as given.
type flagValues struct {
	backends, baseline, kind, fds, active, format, plot string
	workload, conns, threads                            string
	writes, rounds, warmup, count                       int
	maxTime, duration                                   time.Duration
	list                                                bool
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, "usage: pollbench [flags]\n\n"+
		"Runs libevent's bench.c workload (N registered fds, M made readable,\n"+
		"a chain of small writes in which every read triggers the next write)\n"+
		"on each backend and on baselines written without evpoll, and prints\n"+
		"the time per round and its ratio to the -baseline, paired repeat by\n"+
		"paired repeat, with the spread of that ratio.\n\n"+
		"With -workload echo it compares an evnet echo server on -threads loop\n"+
		"threads with a Go net server instead: round trips per second and\n"+
		"server CPU per round trip from a client process, with ratios to net.\n\n"+
		"Exit status: 0 on success, 2 for a bad flag, 1 when a measurement fails.\n\nFlags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// parse parses args. The flag package's own messages are discarded so
// that a bad flag is reported once, by Main.
func parse(stderr io.Writer, args []string) (*options, error) {
	var v flagValues
	fs := newFlagSet(&v)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stderr, fs)
			return nil, err
		}
		return nil, usageError{err}
	}
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Errorf("unexpected argument %q (pollbench takes flags only)", fs.Arg(0))}
	}
	o := &options{writes: v.writes, rounds: v.rounds, warmup: v.warmup, count: v.count,
		maxTime: v.maxTime, format: v.format, plot: v.plot, list: v.list, workload: v.workload}
	var err error
	if err := checkWorkload(fs, v.workload); err != nil {
		return nil, err
	}
	if o.workload == "echo" {
		return o, parseEcho(o, &v)
	}
	if o.kind, err = chain.ParseKind(v.kind); err != nil {
		return nil, badFlag("kind", "%v", strings.TrimPrefix(err.Error(), "chain: "))
	}
	if o.fds, err = intList("fds", v.fds); err != nil {
		return nil, err
	}
	if o.kind == chain.Socketpair {
		for _, n := range o.fds {
			if n%2 != 0 {
				return nil, badFlag("fds", "%d is odd: socket pairs register both ends (or use -kind pipe)", n)
			}
		}
	}
	if o.active, err = intList("active", v.active); err != nil {
		return nil, err
	}
	if m, n := slices.Max(o.active), slices.Min(o.fds); m > n {
		return nil, badFlag("active", "%d exceeds the smallest -fds (%d): cannot make more fds readable than are registered", m, n)
	}
	switch {
	case o.writes < 0:
		return nil, badFlag("writes", "%d is negative", o.writes)
	case o.rounds < 1:
		return nil, badFlag("rounds", "%d: need at least 1", o.rounds)
	case o.warmup < 0:
		return nil, badFlag("warmup", "%d is negative", o.warmup)
	case o.count < 1:
		return nil, badFlag("count", "%d: need at least 1", o.count)
	case o.maxTime <= 0:
		return nil, badFlag("maxtime", "%v: need a positive duration", o.maxTime)
	case !slices.Contains(formats, o.format):
		return nil, badFlag("format", "unknown format %q (want text, csv, json or bench)", o.format)
	}
	if o.format == "gobench" {
		o.format = "bench"
	}
	if o.plot != "" {
		if ext := filepath.Ext(o.plot); ext != ".svg" && ext != ".png" {
			return nil, badFlag("plot", "%q: the file name must end in .svg or .png", o.plot)
		}
	}
	if !known(v.baseline) {
		return nil, badFlag("baseline", "unknown %q (%s)", v.baseline, knownNames())
	}
	o.baseline = v.baseline
	if o.names, err = selectNames(v.backends); err != nil {
		return nil, err
	}
	if !slices.Contains(o.names, o.baseline) {
		o.names = append([]string{o.baseline}, o.names...)
	}
	return o, nil
}

// known reports whether name is a baseline or a registered backend.
func known(name string) bool {
	if chain.IsBaseline(name) {
		return true
	}
	_, err := poller.Lookup(name)
	return err == nil
}

func knownNames() string {
	var names []string
	for _, b := range poller.Backends() {
		names = append(names, b.Name)
	}
	return "baselines here: " + strings.Join(chain.Baselines(), ", ") + "; backends: " + strings.Join(names, ", ")
}

// selectNames expands -backends: baselines first, then backends in
// preference order for "all", or as given; a name given twice runs once.
func selectNames(s string) ([]string, error) {
	var names []string
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		var add []string
		switch {
		case n == "":
			continue
		case n == "all":
			add = chain.Baselines()
			cands, err := poller.Candidates()
			if err != nil {
				return nil, badFlag("backends", "%v", err)
			}
			for _, c := range cands {
				add = append(add, c.Name)
			}
		case known(n):
			add = []string{n}
		default:
			return nil, badFlag("backends", "unknown backend %q (%s)", n, knownNames())
		}
		for _, a := range add {
			if !slices.Contains(names, a) {
				names = append(names, a)
			}
		}
	}
	if len(names) == 0 {
		return nil, badFlag("backends", "%q names nothing to measure", s)
	}
	return names, nil
}

func intList(name, s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, badFlag(name, "%q is not a whole number", f)
		}
		if n <= 0 {
			return nil, badFlag(name, "%d: need a positive number", n)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

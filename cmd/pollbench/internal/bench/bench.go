package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/internal/chain"
	"github.com/evpoll/evpoll/poller"
	_ "github.com/evpoll/evpoll/pollers" // every backend of this GOOS
)

// Main runs pollbench with args and returns the exit status: 0 on
// success, 2 on bad usage, 1 when a measurement failed.
func Main(stdout, stderr io.Writer, args []string) int {
	err := run(stdout, stderr, args)
	var ue usageError
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "pollbench: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "pollbench: %v\n", err)
		return 1
	}
}

type usageError struct{ error }

func badFlag(name, format string, args ...any) error {
	return usageError{fmt.Errorf("flag -%s: %s", name, fmt.Sprintf(format, args...))}
}

// options are the parsed flags.
type options struct {
	backends []string
	fds      []int
	active   []int
	writes   int
	rounds   int
	warmup   int
	maxTime  time.Duration
	format   string
	list     bool
}

func parse(stderr io.Writer, args []string) (*options, error) {
	fs := flag.NewFlagSet("pollbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: pollbench [flags]\n\n"+
			"Runs libevent's bench.c workload (N registered socket fds, M made\n"+
			"readable, a chain of one-byte writes) on each backend and on Go's\n"+
			"runtime netpoller, and prints the time per round and its ratio to\n"+
			"the netpoller measured in the same run.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	backends := fs.String("backends", "all", "comma-separated backends to measure, \"all\" for every enabled one (EVPOLL_POLLER and EVPOLL_DISABLE narrow it); "+chain.Netpoller+" (Go's runtime netpoller) is always measured as the baseline")
	fds := fs.String("fds", "100,1000,10000", "comma-separated numbers of registered fds (even, >= 2)")
	active := fs.String("active", "1,100", "comma-separated numbers of fds made readable at the start of a round")
	writes := fs.Int("writes", 100, "chained one-byte writes per round")
	rounds := fs.Int("rounds", 100, "measured rounds per point (at most; see -maxtime)")
	maxTime := fs.Duration("maxtime", 2*time.Second, "stop measuring a point after this long, once 3 rounds are done")
	warmup := fs.Int("warmup", 10, "unmeasured rounds per point before measuring")
	format := fs.String("format", "text", "output format: text, csv, json or gobench (Go benchmark format, for benchstat)")
	list := fs.Bool("list", false, "print the registered backends in haproxy -vv format and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageError{err}
	}
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	o := &options{writes: *writes, rounds: *rounds, warmup: *warmup, maxTime: *maxTime, format: *format, list: *list}
	var err error
	if o.fds, err = intList("fds", *fds, 2); err != nil {
		return nil, err
	}
	for _, n := range o.fds {
		if n%2 != 0 {
			return nil, badFlag("fds", "%d is odd: fds come in socket pairs", n)
		}
	}
	if o.active, err = intList("active", *active, 1); err != nil {
		return nil, err
	}
	if o.writes < 0 {
		return nil, badFlag("writes", "%d is negative", o.writes)
	}
	if o.rounds < 1 {
		return nil, badFlag("rounds", "%d: need at least 1", o.rounds)
	}
	if o.maxTime <= 0 {
		return nil, badFlag("maxtime", "%v: need a positive duration", o.maxTime)
	}
	if o.warmup < 0 {
		return nil, badFlag("warmup", "%d is negative", o.warmup)
	}
	switch o.format {
	case "text", "csv", "json", "gobench":
	default:
		return nil, badFlag("format", "unknown format %q (want text, csv, json or gobench)", o.format)
	}
	names := poller.Names()
	if *backends == "all" {
		cands, err := poller.Candidates()
		if err != nil {
			return nil, usageError{err}
		}
		for _, c := range cands {
			o.backends = append(o.backends, c.Name)
		}
	} else {
		for _, n := range strings.Split(*backends, ",") {
			n = strings.TrimSpace(n)
			if n == "" || n == chain.Netpoller {
				continue
			}
			if _, err := poller.Lookup(n); err != nil {
				return nil, badFlag("backends", "unknown backend %q (registered here: %s)", n, strings.Join(names, ", "))
			}
			o.backends = append(o.backends, n)
		}
	}
	return o, nil
}

func intList(name, s string, min int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, badFlag(name, "%q is not a whole number", f)
		}
		if n < min {
			return nil, badFlag(name, "%d is below the minimum %d", n, min)
		}
		out = append(out, n)
	}
	return out, nil
}

// Result is one measured (or skipped) point.
type Result struct {
	Backend  string  `json:"backend"`
	FDs      int     `json:"fds"`
	Active   int     `json:"active"`
	Rounds   int     `json:"rounds"`
	NsRound  float64 `json:"ns_per_round"`
	Events   float64 `json:"events_per_round"`
	Ratio    float64 `json:"ratio_to_baseline,omitempty"`
	Skipped  string  `json:"skipped,omitempty"`
	Baseline bool    `json:"baseline,omitempty"`
}

func run(stdout, stderr io.Writer, args []string) error {
	o, err := parse(stderr, args)
	if err != nil {
		return err
	}
	if o.list {
		return poller.WriteList(stdout, fdtable.New(0))
	}
	var results []Result
	for _, n := range o.fds {
		for _, m := range o.active {
			if m > n {
				continue
			}
			cfg := chain.Config{FDs: n, Active: m, Writes: o.writes}
			base := measure(chain.Netpoller, cfg, o)
			base.Baseline = true
			results = append(results, base)
			for _, name := range o.backends {
				r := measure(name, cfg, o)
				if r.Skipped == "" && base.Skipped == "" && base.NsRound > 0 {
					r.Ratio = r.NsRound / base.NsRound
				}
				results = append(results, r)
			}
		}
	}
	return write(stdout, o.format, results)
}

// measure runs one point; failures to set up are reported as skipped.
func measure(name string, cfg chain.Config, o *options) Result {
	res := Result{Backend: name, FDs: cfg.FDs, Active: cfg.Active}
	var r chain.Runner
	var err error
	if name == chain.Netpoller {
		r, err = chain.NewBaseline(chain.Netpoller, cfg)
	} else {
		var be poller.Backend
		if be, err = poller.Lookup(name); err == nil {
			r, err = chain.New(be, cfg)
		}
	}
	if err != nil {
		res.Skipped = err.Error()
		return res
	}
	defer r.Close()
	for i := 0; i < o.warmup; i++ {
		if _, err := r.Round(); err != nil {
			res.Skipped = err.Error()
			return res
		}
	}
	events, rounds := 0, 0
	start := time.Now()
	for rounds < o.rounds && (rounds < 3 || time.Since(start) < o.maxTime) {
		n, err := r.Round()
		if err != nil {
			res.Skipped = err.Error()
			return res
		}
		events += n
		rounds++
	}
	el := time.Since(start)
	res.Rounds = rounds
	res.NsRound = float64(el.Nanoseconds()) / float64(rounds)
	res.Events = float64(events) / float64(rounds)
	return res
}

// sortResults orders results for stable output: by fds, active, then
// baseline first and backends by name.
func sortResults(rs []Result) {
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.FDs != b.FDs {
			return a.FDs < b.FDs
		}
		if a.Active != b.Active {
			return a.Active < b.Active
		}
		if a.Baseline != b.Baseline {
			return a.Baseline
		}
		return a.Backend < b.Backend
	})
}

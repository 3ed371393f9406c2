package bench

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/evpoll/evpoll/internal/chain"
	"github.com/evpoll/evpoll/poller"
	selectpoll "github.com/evpoll/evpoll/pollers/select"
)

// measureAll measures every name at every point, count paired repeats
// each: a repeat measures every name once, starting one name further on
// each time, so that no backend always runs right after the same one. It
// returns the first failure, having measured everything else.
func measureAll(o *options, rep *Report) error {
	var first error
	for _, m := range o.active {
		for _, n := range o.fds {
			cfg := chain.Config{FDs: n, Active: m, Writes: o.writes, Kind: o.kind}
			rows := make([]*Row, len(o.names))
			for i, name := range o.names {
				rows[i] = &Row{Backend: name, FDs: n, Active: m}
				rep.Rows = append(rep.Rows, rows[i])
			}
			for k := 0; k < o.count; k++ {
				for j := range rows {
					r := rows[(j+k)%len(rows)]
					if r.Skipped != "" || r.Error != "" {
						continue
					}
					s, err := sample(r.Backend, cfg, o)
					var bt *chain.ErrBackendTest
					switch {
					case errors.As(err, &bt):
						r.Skipped = skipReason(bt)
					case err != nil:
						r.Error = err.Error()
						if first == nil {
							first = fmt.Errorf("%s at fds=%d active=%d: %w", r.Backend, n, m, err)
						}
					default:
						r.Samples = append(r.Samples, s)
					}
				}
			}
		}
	}
	rep.computeRatios()
	return first
}

// skipReason says why a backend cannot serve a point, in words.
func skipReason(bt *chain.ErrBackendTest) string {
	if errors.Is(bt, selectpoll.ErrFDSetSize) {
		return fmt.Sprintf("select cannot watch fds at or above FD_SETSIZE (%d) on this OS, and this point opens fds up to %d", selectpoll.SetSize, bt.MaxFD)
	}
	return bt.Error()
}

// openRunner is newRunner; tests replace it with fakes.
var openRunner = newRunner

// newRunner sets up the workload on a baseline or a backend.
func newRunner(name string, cfg chain.Config) (chain.Runner, error) {
	if chain.IsBaseline(name) {
		return chain.NewBaseline(name, cfg)
	}
	be, err := poller.Lookup(name)
	if err != nil {
		return nil, err
	}
	return chain.New(be, cfg)
}

// sample sets up name, runs the warm-up rounds, then measures rounds
// until o.rounds are done or o.maxTime has passed (3 rounds at least).
func sample(name string, cfg chain.Config, o *options) (s Sample, err error) {
	r, err := openRunner(name, cfg)
	if err != nil {
		return s, err
	}
	defer func() {
		if cerr := r.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	want := cfg.Active + cfg.Writes
	round := func() error {
		n, err := r.Round()
		if err == nil && n != want {
			err = fmt.Errorf("round handled %d events, want %d", n, want)
		}
		return err
	}
	// Warm up for o.warmup rounds, or half of o.maxTime once one round
	// is done: a round of poll over 10000 mostly idle fds takes a third
	// of a second.
	wstart := time.Now()
	for i := 0; i < o.warmup && (i < 1 || time.Since(wstart) < o.maxTime/2); i++ {
		if err := round(); err != nil {
			return s, err
		}
	}
	counter, counts := r.(chain.Counter)
	var c0 chain.Counts
	if counts {
		c0 = counter.Counts()
	}
	// Each round is timed on its own: the sample's time is its median
	// round, which a burst of other work on a shared machine moves far
	// less than the mean (kept too).
	times := make([]float64, 0, o.rounds)
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	start := time.Now()
	for len(times) < o.rounds && (len(times) < 3 || time.Since(start) < o.maxTime) {
		t0 := time.Now()
		if err := round(); err != nil {
			return s, err
		}
		times = append(times, float64(time.Since(t0).Nanoseconds()))
	}
	el := time.Since(start)
	runtime.ReadMemStats(&ms1)
	rounds := len(times)
	s = Sample{
		Rounds:         rounds,
		NsPerRound:     summarize(times).Median,
		MeanNsPerRound: float64(el.Nanoseconds()) / float64(rounds),
		Allocs:         float64(ms1.Mallocs-ms0.Mallocs) / float64(rounds),
	}
	if counts {
		w := float64(counter.Counts().Waits-c0.Waits) / float64(rounds)
		s.Waits = &w
	}
	return s, nil
}

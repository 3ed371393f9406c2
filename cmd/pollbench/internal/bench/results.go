package bench

import (
	"slices"
)

// Report is everything one run measured, as the writers print it.
type Report struct {
	Machine  Machine  `json:"machine"`
	Kind     string   `json:"kind"`
	Writes   int      `json:"writes"`
	Count    int      `json:"count"`
	Baseline string   `json:"baseline"`
	FDs      []int    `json:"fds"`
	Active   []int    `json:"active"`
	Names    []string `json:"backends"` // rows, in order
	Rows     []*Row   `json:"results"`
}

// Machine describes where the run took place.
type Machine struct {
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	Kernel     string `json:"kernel"`
	GoVersion  string `json:"go_version"`
	GOMAXPROCS int    `json:"gomaxprocs"`
}

// Row is one backend (or baseline) at one point.
type Row struct {
	Backend string    `json:"backend"`
	FDs     int       `json:"fds"`
	Active  int       `json:"active"`
	Samples []Sample  `json:"samples,omitempty"` // one per repeat, in order
	Ratios  []float64 `json:"ratios,omitempty"`  // to the baseline, one per paired repeat
	Ratio   *Summary  `json:"ratio,omitempty"`   // of Ratios
	Skipped string    `json:"skipped,omitempty"` // the backend cannot serve this point
	Error   string    `json:"error,omitempty"`   // the measurement failed
}

// Sample is one measurement of one row: a run of rounds on a fresh setup.
type Sample struct {
	Rounds int `json:"rounds"`
	// NsPerRound is the median round's time; MeanNsPerRound the mean.
	NsPerRound     float64 `json:"ns_per_round"`
	MeanNsPerRound float64 `json:"mean_ns_per_round"`
	Allocs         float64 `json:"allocs_per_round"`
	// Waits is kernel waits (or Poll calls, for a backend) per round,
	// absent for runners that cannot count them.
	Waits *float64 `json:"waits_per_round,omitempty"`
}

// Summary is the median and range of a set of values.
type Summary struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

func summarize(vs []float64) *Summary {
	if len(vs) == 0 {
		return nil
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return &Summary{Median: m, Min: s[0], Max: s[len(s)-1]}
}

// ok reports whether r has samples to show.
func (r *Row) ok() bool { return r != nil && r.Skipped == "" && r.Error == "" && len(r.Samples) > 0 }

// times returns the time per round of each sample.
func (r *Row) times() []float64 {
	t := make([]float64, len(r.Samples))
	for i, s := range r.Samples {
		t[i] = s.NsPerRound
	}
	return t
}

// ratios returns r's time over base's, sample by sample, for the repeats
// both completed.
func ratios(r, base *Row) []float64 {
	if !r.ok() || !base.ok() {
		return nil
	}
	n := min(len(r.Samples), len(base.Samples))
	out := make([]float64, n)
	for i := range n {
		out[i] = r.Samples[i].NsPerRound / base.Samples[i].NsPerRound
	}
	return out
}

// row returns the row of backend at (fds, active), or nil.
func (rep *Report) row(backend string, fds, active int) *Row {
	for _, r := range rep.Rows {
		if r.Backend == backend && r.FDs == fds && r.Active == active {
			return r
		}
	}
	return nil
}

// computeRatios fills every row's ratios to the baseline.
func (rep *Report) computeRatios() {
	for _, r := range rep.Rows {
		base := rep.row(rep.Baseline, r.FDs, r.Active)
		r.Ratios = ratios(r, base)
		r.Ratio = summarize(r.Ratios)
	}
}

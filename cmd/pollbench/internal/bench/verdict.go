package bench

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/evpoll/evpoll/internal/chain"
)

// outcome compares a row with another through their paired ratios: beyond
// the noise only when every repeat agrees, and never from one repeat.
func outcome(rs []float64) string {
	switch {
	case len(rs) == 0:
		return "not compared"
	case len(rs) == 1:
		return "no spread from 1 repeat"
	case slices.Max(rs) < 1:
		return "faster"
	case slices.Min(rs) > 1:
		return "slower"
	}
	return "within noise"
}

// runs groups consecutive columns with the same label, in column order, as
// "label at fds 100-1000" phrases.
func runs(fds []int, labels []string) []string {
	var out []string
	for i := 0; i < len(fds); {
		j := i
		for j+1 < len(fds) && labels[j+1] == labels[i] {
			j++
		}
		where := "fds " + strconv.Itoa(fds[i])
		if j > i {
			where += "-" + strconv.Itoa(fds[j])
		}
		out = append(out, labels[i]+" at "+where)
		i = j + 1
	}
	return out
}

// fastest returns the fastest row among names at one point (by median
// time), and the runner-up, either nil when missing.
func (rep *Report) fastest(names []string, fds, active int) (best, second *Row) {
	for _, name := range names {
		r := rep.row(name, fds, active)
		if !r.ok() {
			continue
		}
		t := summarize(r.times()).Median
		switch {
		case best == nil || t < summarize(best.times()).Median:
			best, second = r, best
		case second == nil || t < summarize(second.times()).Median:
			second = r
		}
	}
	return best, second
}

// verdict is the last line of the text output: for each -active value,
// the fastest evpoll backend over the fds columns and whether it beat
// each baseline beyond the noise (every paired repeat agreeing).
func (rep *Report) verdict() string {
	var backends, bases []string
	for _, n := range rep.Names {
		if chain.IsBaseline(n) {
			bases = append(bases, n)
		} else {
			backends = append(backends, n)
		}
	}
	what := "fastest evpoll backend: "
	if len(backends) == 0 {
		backends, bases, what = rep.Names, nil, "fastest: "
	}
	var parts []string
	for _, m := range rep.Active {
		winners := make([]*Row, len(rep.FDs))
		labels := make([]string, len(rep.FDs))
		for i, n := range rep.FDs {
			best, second := rep.fastest(backends, n, m)
			winners[i] = best
			switch {
			case best == nil:
				labels[i] = "nothing measured"
			case second != nil && outcome(ratios(best, second)) == "within noise":
				labels[i] = best.Backend + " (" + second.Backend + " within noise)"
			default:
				labels[i] = best.Backend
			}
		}
		var sb strings.Builder
		if len(rep.Active) > 1 {
			fmt.Fprintf(&sb, "active=%d: ", m)
		}
		sb.WriteString(what + strings.Join(runs(rep.FDs, labels), ", "))
		for _, b := range bases {
			outs := make([]string, len(rep.FDs))
			for i, n := range rep.FDs {
				outs[i] = "not compared"
				if w := winners[i]; w != nil {
					outs[i] = outcome(ratios(w, rep.row(b, n, m)))
				}
			}
			sb.WriteString("; vs " + b + ": " + strings.Join(runs(rep.FDs, outs), ", "))
		}
		parts = append(parts, sb.String())
	}
	return "verdict: " + strings.Join(parts, "; ") + "."
}

func joinNames(ns []string) string { return strings.Join(ns, ", ") }

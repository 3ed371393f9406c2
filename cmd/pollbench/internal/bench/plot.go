package bench

import (
	"fmt"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// newPlot draws the median time per round against fds, one line per
// backend and baseline (and per -active value when there are several),
// both axes on a log scale.
func newPlot(rep *Report) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("pollbench: %s, %d chained writes per round", rep.Kind, rep.Writes)
	p.X.Label.Text = "registered fds"
	p.Y.Label.Text = "time per round (µs, median of the repeats)"
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, ticks125{}
	p.Legend.Top = true
	p.Legend.Left = true
	var lines []any
	for _, m := range rep.Active {
		for _, name := range rep.Names {
			var xys plotter.XYs
			for _, n := range rep.FDs {
				if r := rep.row(name, n, m); r.ok() {
					xys = append(xys, plotter.XY{X: float64(n), Y: summarize(r.times()).Median / 1e3})
				}
			}
			if len(xys) == 0 {
				continue
			}
			label := name
			if len(rep.Active) > 1 {
				label = fmt.Sprintf("%s active=%d", name, m)
			}
			lines = append(lines, label, xys)
		}
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("nothing was measured to plot")
	}
	if err := plotutil.AddLinePoints(p, lines...); err != nil {
		return nil, err
	}
	return p, nil
}

// writePlot saves the plot to path; the extension (.svg or .png) picks
// the format.
func writePlot(path string, rep *Report) error {
	p, err := newPlot(rep)
	if err != nil {
		return err
	}
	return p.Save(18*vg.Centimeter, 12*vg.Centimeter, path)
}

// ticks125 marks a log axis at 1, 2, 3, ... 9 times each power of ten and
// labels 1, 2 and 5 times, so that a range of less than a decade still
// reads.
type ticks125 struct{}

func (ticks125) Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 || hi <= lo {
		return nil
	}
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for m := 1; m <= 9; m++ {
			v := float64(m) * math.Pow(10, e)
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = strconv.FormatFloat(v, 'g', -1, 64)
			}
			ts = append(ts, t)
		}
	}
	return ts
}

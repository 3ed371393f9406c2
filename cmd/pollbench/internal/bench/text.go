package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// fmtNs formats a time per round.
func fmtNs(ns float64) string {
	switch {
	case ns < 1e3:
		return fmt.Sprintf("%.0fns", ns)
	case ns < 1e6:
		return fmt.Sprintf("%.1fµs", ns/1e3)
	}
	return fmt.Sprintf("%.2fms", ns/1e6)
}

// cell is one row's entry in a column of the pivot table.
func (rep *Report) cell(r *Row) string {
	switch {
	case r == nil:
		return "-"
	case r.Skipped != "":
		return "skipped"
	case r.Error != "":
		return "FAILED"
	case !r.ok():
		return "-"
	}
	t := fmtNs(summarize(r.times()).Median)
	switch {
	case r.Backend == rep.Baseline:
		return t + " 1.00x (baseline)"
	case r.Ratio == nil:
		return t
	}
	return fmt.Sprintf("%s %sx (%s-%s)", t, fmtRatio(r.Ratio.Median), fmtRatio(r.Ratio.Min), fmtRatio(r.Ratio.Max))
}

// fmtRatio keeps about three significant digits, so that 0.004 and 1236
// both read.
func fmtRatio(x float64) string {
	switch {
	case x < 0.1:
		return fmt.Sprintf("%.3f", x)
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.2f", x)
}

// writeText prints one pivot table per -active value (rows: backends,
// columns: fds), the skips and failures, and the verdict.
func (rep *Report) writeText(w io.Writer) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "pollbench: kind %s, %d chained writes per round, paired repeats: %d, ratios to %s\n",
		rep.Kind, rep.Writes, rep.Count, rep.Baseline)
	fmt.Fprintf(&sb, "machine: %s, %d cores, %s, %s, GOMAXPROCS=%d\n",
		orUnknown(rep.Machine.CPU), rep.Machine.Cores, orUnknown(rep.Machine.Kernel), rep.Machine.GoVersion, rep.Machine.GOMAXPROCS)
	for _, m := range rep.Active {
		sb.WriteString("\n")
		tw := tabwriter.NewWriter(&sb, 0, 8, 2, ' ', 0)
		fmt.Fprintf(tw, "active=%d", m)
		for _, n := range rep.FDs {
			fmt.Fprintf(tw, "\tfds=%d", n)
		}
		fmt.Fprintln(tw)
		for _, name := range rep.Names {
			fmt.Fprint(tw, name)
			for _, n := range rep.FDs {
				fmt.Fprint(tw, "\t"+rep.cell(rep.row(name, n, m)))
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
	}
	fmt.Fprintf(&sb, "\ncells: time per round (median round of each sample, median over the repeats), then the median of the paired ratios to %s and their range (min-max) over the repeats; lower is faster.\n", rep.Baseline)
	for _, r := range rep.Rows {
		if r.Skipped != "" {
			fmt.Fprintf(&sb, "skipped: %s at fds=%d active=%d: %s\n", r.Backend, r.FDs, r.Active, r.Skipped)
		}
	}
	for _, r := range rep.Rows {
		if r.Error != "" {
			fmt.Fprintf(&sb, "FAILED: %s at fds=%d active=%d: %s\n", r.Backend, r.FDs, r.Active, r.Error)
		}
	}
	sb.WriteString(rep.verdict() + "\n")
	_, err := io.WriteString(w, sb.String())
	return err
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

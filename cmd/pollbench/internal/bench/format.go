package bench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// write prints results in the given format.
func write(w io.Writer, format string, rs []Result) error {
	sortResults(rs)
	switch format {
	case "csv":
		return writeCSV(w, rs)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rs)
	case "gobench":
		return writeGobench(w, rs)
	}
	return writeText(w, rs)
}

func writeText(w io.Writer, rs []Result) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "backend\tfds\tactive\tus/round\tevents/round\tvs netpoll\t")
	var skipped []string
	for _, r := range rs {
		if r.Skipped != "" {
			fmt.Fprintf(tw, "%s\t%d\t%d\t-\t-\tskipped\t\n", r.Backend, r.FDs, r.Active)
			skipped = append(skipped, fmt.Sprintf("%s fds=%d active=%d: %s", r.Backend, r.FDs, r.Active, r.Skipped))
			continue
		}
		ratio := "1.00x (baseline)"
		if !r.Baseline {
			ratio = "-"
			if r.Ratio > 0 {
				ratio = fmt.Sprintf("%.2fx", r.Ratio)
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.0f\t%s\t\n", r.Backend, r.FDs, r.Active, r.NsRound/1e3, r.Events, ratio)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var sb strings.Builder
	sb.WriteString("\nus/round: mean wall time of one round; vs netpoll: time ratio to Go's runtime netpoller at the same point (lower is faster).\n")
	for _, s := range skipped {
		sb.WriteString("skipped: " + s + "\n")
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

func writeCSV(w io.Writer, rs []Result) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"backend", "fds", "active", "rounds", "ns_per_round", "events_per_round", "ratio_to_baseline", "skipped"})
	for _, r := range rs {
		ratio := ""
		if r.Ratio > 0 {
			ratio = strconv.FormatFloat(r.Ratio, 'f', 4, 64)
		}
		if r.Baseline && r.Skipped == "" {
			ratio = "1.0000"
		}
		cw.Write([]string{
			r.Backend, strconv.Itoa(r.FDs), strconv.Itoa(r.Active), strconv.Itoa(r.Rounds),
			strconv.FormatFloat(r.NsRound, 'f', 0, 64), strconv.FormatFloat(r.Events, 'f', 1, 64),
			ratio, r.Skipped,
		})
	}
	cw.Flush()
	return cw.Error()
}

// writeGobench prints lines benchstat reads, such as
// "BenchmarkChain/backend=epoll/fds=100/active=1 100 509874 ns/op 101.0 events/op".
func writeGobench(w io.Writer, rs []Result) error {
	var sb strings.Builder
	for _, r := range rs {
		name := fmt.Sprintf("BenchmarkChain/backend=%s/fds=%d/active=%d", r.Backend, r.FDs, r.Active)
		if r.Skipped != "" {
			fmt.Fprintf(&sb, "# %s skipped: %s\n", name, r.Skipped)
			continue
		}
		fmt.Fprintf(&sb, "%s\t%d\t%.0f ns/op\t%.1f events/op\n", name, r.Rounds, r.NsRound, r.Events)
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

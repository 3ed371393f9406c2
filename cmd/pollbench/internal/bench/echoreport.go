package bench

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"golang.org/x/perf/benchfmt"
)

// echoTarget is the goal for evnet's server CPU per round trip,
// as a ratio to net's.
const echoTarget = 0.75

// echoCell is a median and its paired ratio to net with the range.
func echoCell(r *EchoRow, s *Summary) string {
	switch {
	case r.Server == "net":
		return "1.00x (baseline)"
	case s == nil:
		return "-"
	}
	return fmt.Sprintf("%sx (%s-%s)", fmtRatio(s.Median), fmtRatio(s.Min), fmtRatio(s.Max))
}

func (rep *EchoReport) writeText(w io.Writer) error {
	var sb strings.Builder
	pinned := "not pinned"
	if rep.Pinned {
		pinned = "pinned to CPU 1"
	}
	fmt.Fprintf(&sb, "pollbench: echo, %d-byte round trips from a client process (%s), %gs per sample, paired repeats: %d, ratios to net\n",
		rep.MsgSize, pinned, rep.Duration, rep.Count)
	fmt.Fprintf(&sb, "machine: %s, %d cores, %s, %s, GOMAXPROCS=%d\n\n",
		orUnknown(rep.Machine.CPU), rep.Machine.Cores, orUnknown(rep.Machine.Kernel), rep.Machine.GoVersion, rep.Machine.GOMAXPROCS)
	tw := tabwriter.NewWriter(&sb, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "conns\tserver\tround trips/s\tvs net\tserver CPU/round trip\tvs net")
	for _, r := range rep.Rows {
		if r.Error != "" || len(r.Samples) == 0 {
			fmt.Fprintf(tw, "%d\t%s\tFAILED\t\tFAILED\t\n", r.Conns, r.name())
			continue
		}
		ps, cu := r.medians()
		fmt.Fprintf(tw, "%d\t%s\t%.0f\t%s\t%.2fµs\t%s\n", r.Conns, r.name(), ps, echoCell(r, r.RTTRatio), cu, echoCell(r, r.CPURatio))
	}
	tw.Flush()
	sb.WriteString("\ncells: medians over the repeats; ratios: median of the paired ratios to net and their range (min-max); net is Go's net package with a goroutine per connection, evnet/T an evnet server on T loop threads.\n")
	for _, r := range rep.Rows {
		if r.Error != "" {
			fmt.Fprintf(&sb, "FAILED: %s at conns=%d: %s\n", r.name(), r.Conns, r.Error)
		}
	}
	sb.WriteString(rep.verdict() + "\n")
	_, err := io.WriteString(w, sb.String())
	return err
}

// verdict says, per thread count, whether evnet's CPU per round trip met
// the target ratio to net at every number of connections.
func (rep *EchoReport) verdict() string {
	var parts []string
	for _, th := range rep.Threads {
		var missed, unmeasured []string
		worst := 0.0
		for _, r := range rep.Rows {
			if r.Server != "evnet" || r.Threads != th {
				continue
			}
			switch {
			case r.CPURatio == nil:
				unmeasured = append(unmeasured, strconv.Itoa(r.Conns))
			case r.CPURatio.Median > echoTarget:
				missed = append(missed, fmt.Sprintf("conns=%d (%sx)", r.Conns, fmtRatio(r.CPURatio.Median)))
			default:
				worst = max(worst, r.CPURatio.Median)
			}
		}
		name := fmt.Sprintf("evnet/%d", th)
		var p string
		switch {
		case !anyMeasured(rep.Rows, th):
			parts = append(parts, name+" not measured")
			continue
		case len(missed) > 0:
			p = name + " misses it at " + strings.Join(missed, ", ")
		case len(unmeasured) > 0:
			p = name + " meets it where measured"
		default:
			p = fmt.Sprintf("%s meets it at every conns (at most %sx)", name, fmtRatio(worst))
		}
		if len(unmeasured) > 0 {
			p += " (not measured at conns=" + strings.Join(unmeasured, ",") + ")"
		}
		parts = append(parts, p)
	}
	return fmt.Sprintf("verdict: server CPU per round trip against net, target at most %.2fx: %s", echoTarget, strings.Join(parts, "; "))
}

// anyMeasured reports whether some evnet row of th threads has ratios.
func anyMeasured(rows []*EchoRow, th int) bool {
	for _, r := range rows {
		if r.Server == "evnet" && r.Threads == th && r.CPURatio != nil {
			return true
		}
	}
	return false
}

// writeCSV prints one line per sample, and one per failed row
// without samples.
func (rep *EchoReport) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"server", "threads", "conns", "repeat", "round_trips", "seconds", "round_trips_per_second", "server_cpu_us_per_round_trip", "cpu_ratio_to_net", "rtt_ratio_to_net", "error"})
	f := func(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	for _, r := range rep.Rows {
		head := []string{r.Server, strconv.Itoa(r.Threads), strconv.Itoa(r.Conns)}
		if len(r.Samples) == 0 {
			cw.Write(append(head, "", "", "", "", "", "", "", r.Error))
			continue
		}
		for i, s := range r.Samples {
			cpu, rtt := "", ""
			if i < len(r.CPURatios) {
				cpu, rtt = f(r.CPURatios[i], 4), f(r.RTTRatios[i], 4)
			}
			cw.Write(append(head, strconv.Itoa(i+1), strconv.FormatInt(s.RoundTrips, 10), f(s.Seconds, 3),
				f(s.PerSecond, 0), f(s.CPUus, 3), cpu, rtt, r.Error))
		}
	}
	cw.Flush()
	return cw.Error()
}

// writeBench prints every sample as a Go benchmark result named
// Echo/server=S/threads=T/conns=C, one line per repeat, so that
// "benchstat -col /server" compares the servers.
func (rep *EchoReport) writeBench(w io.Writer) error {
	bw := benchfmt.NewWriter(w)
	cfg := benchConfig(rep.Machine)
	for _, r := range rep.Rows {
		for _, s := range r.Samples {
			res := &benchfmt.Result{
				Config: cfg,
				Name:   benchfmt.Name(fmt.Sprintf("Echo/server=%s/threads=%d/conns=%d", r.Server, r.Threads, r.Conns)),
				Iters:  int(s.RoundTrips),
				Values: []benchfmt.Value{{Value: s.CPUus, Unit: "cpu-us/rtt"}, {Value: s.PerSecond, Unit: "rtt/s"}},
			}
			if err := bw.Write(res); err != nil {
				return err
			}
		}
	}
	return nil
}

package bench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"golang.org/x/perf/benchfmt"
)

// report is what a workload measured, in each -format but json, which
// encodes the report itself.
type report interface {
	writeText(w io.Writer) error
	writeCSV(w io.Writer) error
	writeBench(w io.Writer) error
}

// write prints rep in the given format.
func write(w io.Writer, format string, rep report) error {
	switch format {
	case "csv":
		return rep.writeCSV(w)
	case "json":
		return writeJSON(w, rep)
	case "bench":
		return rep.writeBench(w)
	}
	return rep.writeText(w)
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// benchConfig is the file configuration of -format bench: the machine
// benchstat reports.
func benchConfig(m Machine) []benchfmt.Config {
	return []benchfmt.Config{
		{Key: "goos", Value: []byte(m.GOOS), File: true},
		{Key: "goarch", Value: []byte(m.GOARCH), File: true},
		{Key: "pkg", Value: []byte("github.com/evpoll/evpoll/cmd/pollbench"), File: true},
		{Key: "cpu", Value: []byte(orUnknown(m.CPU)), File: true},
	}
}

// writeCSV prints one line per sample, and one per skipped or failed row.
func (rep *Report) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"backend", "kind", "fds", "active", "repeat", "rounds", "ns_per_round", "ratio_to_" + rep.Baseline, "allocs_per_round", "waits_per_round", "skipped", "error"})
	f := func(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	for _, r := range rep.Rows {
		head := []string{r.Backend, rep.Kind, strconv.Itoa(r.FDs), strconv.Itoa(r.Active)}
		if len(r.Samples) == 0 {
			cw.Write(append(head, "", "", "", "", "", "", r.Skipped, r.Error))
			continue
		}
		for i, s := range r.Samples {
			ratio, waits := "", ""
			if i < len(r.Ratios) {
				ratio = f(r.Ratios[i], 4)
			}
			if s.Waits != nil {
				waits = f(*s.Waits, 2)
			}
			cw.Write(append(head, strconv.Itoa(i+1), strconv.Itoa(s.Rounds), f(s.NsPerRound, 0), ratio, f(s.Allocs, 2), waits, r.Skipped, r.Error))
		}
	}
	cw.Flush()
	return cw.Error()
}

// writeBench prints every sample as a Go benchmark result named
// Chain/backend=X/fds=N/active=M, one line per repeat, so that
// "benchstat -col /backend" compares the backends.
func (rep *Report) writeBench(w io.Writer) error {
	bw := benchfmt.NewWriter(w)
	cfg := append(benchConfig(rep.Machine), benchfmt.Config{Key: "kind", Value: []byte(rep.Kind), File: true})
	for _, r := range rep.Rows {
		for _, s := range r.Samples {
			res := &benchfmt.Result{
				Config: cfg,
				Name:   benchfmt.Name(fmt.Sprintf("Chain/backend=%s/fds=%d/active=%d", r.Backend, r.FDs, r.Active)),
				Iters:  s.Rounds,
				Values: []benchfmt.Value{{Value: s.NsPerRound, Unit: "ns/op"}, {Value: s.Allocs, Unit: "allocs/op"}},
			}
			if s.Waits != nil {
				res.Values = append(res.Values, benchfmt.Value{Value: *s.Waits, Unit: "waits/op"})
			}
			if err := bw.Write(res); err != nil {
				return err
			}
		}
	}
	return nil
}

package bench

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

// synthetic results: golden files check formats, never live timings.
func synthetic() []Result {
	return []Result{
		{Backend: "poll", FDs: 100, Active: 1, Rounds: 50, NsRound: 700000, Events: 101, Ratio: 0.7},
		{Backend: "netpoller", FDs: 100, Active: 1, Rounds: 50, NsRound: 1000000, Events: 101, Baseline: true},
		{Backend: "epoll", FDs: 100, Active: 1, Rounds: 50, NsRound: 500000, Events: 101, Ratio: 0.5},
		{Backend: "netpoller", FDs: 2000, Active: 1, Rounds: 50, NsRound: 1200000, Events: 101, Baseline: true},
		{Backend: "select", FDs: 2000, Active: 1, Skipped: "chain: backend select cannot serve 2000 fds: table holds 3024 fds, FD_SETSIZE is 1024"},
		{Backend: "epoll", FDs: 2000, Active: 1, Rounds: 50, NsRound: 540000, Events: 101, Ratio: 0.45},
	}
}

func TestFormatsGolden(t *testing.T) {
	for _, format := range []string{"text", "csv", "json", "gobench"} {
		t.Run("format="+format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := write(&buf, format, synthetic()); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", format+".golden")
			if *update {
				os.WriteFile(path, buf.Bytes(), 0o644)
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(want), buf.String()); d != "" {
				t.Errorf("%s output differs from %s (-want +got):\n%s", format, path, d)
			}
		})
	}
}

func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // must appear in stderr
	}{
		{[]string{"-fds", "abc"}, "flag -fds"},
		{[]string{"-fds", "101"}, "flag -fds"},
		{[]string{"-fds", "0"}, "flag -fds"},
		{[]string{"-active", "0"}, "flag -active"},
		{[]string{"-writes", "-1"}, "flag -writes"},
		{[]string{"-rounds", "0"}, "flag -rounds"},
		{[]string{"-warmup", "-2"}, "flag -warmup"},
		{[]string{"-maxtime", "0s"}, "flag -maxtime"},
		{[]string{"-maxtime", "soon"}, "-maxtime"},
		{[]string{"-format", "xml"}, "flag -format"},
		{[]string{"-backends", "nosuch"}, "flag -backends"},
		{[]string{"-nosuchflag"}, "-nosuchflag"},
		{[]string{"extra"}, "unexpected argument"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := Main(&out, &errb, tc.args); code != 2 {
				t.Errorf("exit status = %d, want 2", code)
			}
			if !strings.Contains(errb.String(), tc.want) {
				t.Errorf("stderr %q does not name %q", errb.String(), tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("stdout not empty on a usage error: %q", out.String())
			}
		})
	}
}

func TestHelpExitsZero(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main(&out, &errb, []string{"-h"}); code != 0 {
		t.Errorf("exit status = %d, want 0", code)
	}
	if !strings.Contains(errb.String(), "-format") {
		t.Errorf("help does not document -format: %q", errb.String())
	}
}

func TestList(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main(&out, &errb, []string{"-list"}); code != 0 {
		t.Fatalf("exit status = %d: %s", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), "Available polling systems :\n") || !strings.Contains(out.String(), "Total: ") {
		t.Errorf("-list output is not the -vv listing: %q", out.String())
	}
}

// TestLiveRun measures tiny points for real and checks the results'
// structure (never their timings).
func TestLiveRun(t *testing.T) {
	var out, errb bytes.Buffer
	args := []string{"-fds", "4,20", "-active", "1,2", "-writes", "10", "-rounds", "3", "-warmup", "1", "-format", "json"}
	if code := Main(&out, &errb, args); code != 0 {
		t.Fatalf("exit status = %d: %s", code, errb.String())
	}
	var rs []Result
	if err := json.Unmarshal(out.Bytes(), &rs); err != nil {
		t.Fatalf("json output: %v\n%s", err, out.String())
	}
	points := map[[2]int]int{}
	for _, r := range rs {
		if r.Skipped != "" {
			t.Errorf("%s fds=%d active=%d skipped: %s", r.Backend, r.FDs, r.Active, r.Skipped)
			continue
		}
		points[[2]int{r.FDs, r.Active}]++
		if r.Events != float64(r.Active+10) {
			t.Errorf("%s fds=%d active=%d: %.1f events/round, want %d", r.Backend, r.FDs, r.Active, r.Events, r.Active+10)
		}
		if r.NsRound <= 0 || r.Rounds != 3 {
			t.Errorf("%s: ns/round %.0f over %d rounds", r.Backend, r.NsRound, r.Rounds)
		}
		if !r.Baseline && r.Ratio <= 0 {
			t.Errorf("%s fds=%d active=%d: no ratio to the baseline", r.Backend, r.FDs, r.Active)
		}
	}
	if len(points) != 4 {
		t.Errorf("measured points %v, want the 4 combinations of fds 4,20 and active 1,2", points)
	}
	for p, n := range points {
		if n < 2 {
			t.Errorf("point %v measured %d times, want the baseline and at least one backend", p, n)
		}
	}
}

package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/evpoll/evpoll/internal/chain"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // must appear in stderr, once
	}{
		{[]string{"-fds", "abc"}, "flag -fds"},
		{[]string{"-fds", "101"}, "flag -fds"},
		{[]string{"-fds", "0"}, "flag -fds"},
		{[]string{"-fds", "-4"}, "flag -fds"},
		{[]string{"-active", "0"}, "flag -active"},
		{[]string{"-active", "200", "-fds", "100"}, "flag -active"},
		{[]string{"-active", "1,200", "-fds", "100,1000"}, "flag -active"},
		{[]string{"-writes", "-1"}, "flag -writes"},
		{[]string{"-rounds", "0"}, "flag -rounds"},
		{[]string{"-warmup", "-2"}, "flag -warmup"},
		{[]string{"-count", "0"}, "flag -count"},
		{[]string{"-maxtime", "0s"}, "flag -maxtime"},
		{[]string{"-maxtime", "5"}, "-maxtime"},
		{[]string{"-format", "xml"}, "flag -format"},
		{[]string{"-kind", "fifo"}, "flag -kind"},
		{[]string{"-baseline", "raw-kqueue"}, "flag -baseline"},
		{[]string{"-backends", "nosuch"}, "flag -backends"},
		{[]string{"-backends", ","}, "flag -backends"},
		{[]string{"-plot", "out.pdf"}, "flag -plot"},
		{[]string{"-nosuchflag"}, "-nosuchflag"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"-workload", "ping"}, "flag -workload"},
		{[]string{"-workload", "echo", "-conns", "0"}, "flag -conns"},
		{[]string{"-workload", "echo", "-conns", ""}, "flag -conns"},
		{[]string{"-workload", "echo", "-threads", "0"}, "flag -threads"},
		{[]string{"-workload", "echo", "-threads", "65"}, "flag -threads"},
		{[]string{"-workload", "echo", "-duration", "-1s"}, "flag -duration"},
		{[]string{"-workload", "echo", "-count", "0"}, "flag -count"},
		{[]string{"-workload", "echo", "-format", "xml"}, "flag -format"},
		{[]string{"-workload", "echo", "-backends", "epoll"}, "flag -backends"},
		{[]string{"-threads", "2"}, "flag -threads"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			assert.Equal(t, 2, Main(&out, &errb, tc.args), "exit status")
			assert.Contains(t, errb.String(), tc.want)
			assert.Equal(t, 1, strings.Count(errb.String(), "\n"), "want exactly one message, got %q", errb.String())
			assert.Empty(t, out.String(), "stdout on a usage error")
		})
	}
}

func TestKindEventfd(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main(&out, &errb, []string{"-kind", "eventfd", "-backends", chain.RawPoll, "-fds", "3", "-active", "1", "-writes", "2", "-rounds", "3", "-warmup", "0", "-count", "1"})
	if runtime.GOOS == "linux" {
		assert.Equal(t, 0, code, errb.String())
		return
	}
	assert.Equal(t, 2, code)
	assert.Contains(t, errb.String(), "flag -kind: kind eventfd needs Linux")
}

func TestHelpExitsZero(t *testing.T) {
	var out, errb bytes.Buffer
	assert.Equal(t, 0, Main(&out, &errb, []string{"-h"}))
	for _, f := range []string{"-backends", "-baseline", "-kind", "-fds", "-active", "-count", "-format", "-plot", "-list"} {
		assert.Regexp(t, `\n  `+f+`\b`, errb.String(), "help documents %s", f)
	}
}

func TestList(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, 0, Main(&out, &errb, []string{"-list"}), errb.String())
	s := out.String()
	assert.True(t, strings.HasPrefix(s, "Available polling systems :\n"), s)
	assert.Contains(t, s, "Total: ")
	assert.Contains(t, s, "Baselines: "+strings.Join(chain.Baselines(), ", ")+".\n")
	// Every FAILED test result is followed by its error.
	if strings.Contains(s, "select : pref=150,  test result FAILED") {
		assert.Contains(t, s, "select test: select: fd table of ")
	}
}

// TestNamesOnce: a backend named twice, or named and implied by "all",
// runs once; the baseline is measured even when not named.
func TestNamesOnce(t *testing.T) {
	o, err := parse(nil, []string{"-backends", "poll,poll,all,raw-poll", "-baseline", chain.RawPoll})
	require.NoError(t, err)
	seen := map[string]int{}
	for _, n := range o.names {
		seen[n]++
	}
	for n, c := range seen {
		assert.Equal(t, 1, c, "%s listed %d times", n, c)
	}
	o, err = parse(nil, []string{"-backends", "poll", "-baseline", chain.Netpoller})
	require.NoError(t, err)
	assert.Equal(t, []string{chain.Netpoller, "poll"}, o.names)
}

// TestLiveRun measures tiny points for real and checks the report's
// structure (never its timings).
func TestLiveRun(t *testing.T) {
	for _, kind := range chain.Kinds() {
		t.Run("kind="+kind.String(), func(t *testing.T) {
			var out, errb bytes.Buffer
			plot := filepath.Join(t.TempDir(), "p.svg")
			args := []string{"-kind", kind.String(), "-fds", "4,20", "-active", "1,2", "-writes", "10", "-rounds", "3", "-warmup", "1", "-count", "2", "-format", "json", "-plot", plot}
			require.Equal(t, 0, Main(&out, &errb, args), errb.String())
			var rep Report
			require.NoError(t, json.Unmarshal(out.Bytes(), &rep), out.String())
			assert.Equal(t, kind.String(), rep.Kind)
			assert.NotEmpty(t, rep.Machine.GoVersion)
			assert.Positive(t, rep.Machine.Cores)
			assert.Contains(t, rep.Names, rep.Baseline)
			assert.Len(t, rep.Rows, 4*len(rep.Names), "one row per backend per point")
			for _, r := range rep.Rows {
				require.Empty(t, r.Skipped+r.Error, "%s fds=%d active=%d", r.Backend, r.FDs, r.Active)
				require.Len(t, r.Samples, 2, "%s: one sample per repeat", r.Backend)
				require.Len(t, r.Ratios, 2, "%s: one ratio per repeat", r.Backend)
				for i, s := range r.Samples {
					assert.Equal(t, 3, s.Rounds)
					assert.Positive(t, s.NsPerRound)
					assert.InDelta(t, s.NsPerRound/rep.row(rep.Baseline, r.FDs, r.Active).Samples[i].NsPerRound, r.Ratios[i], 1e-9)
				}
				if r.Backend == rep.Baseline {
					assert.Equal(t, []float64{1, 1}, r.Ratios)
				}
			}
			b, err := os.ReadFile(plot)
			require.NoError(t, err)
			assert.Contains(t, string(b), "<svg")
		})
	}
}

// TestLibraryDeps: the CLI-only dependencies (plotting, benchmark format)
// stay out of the library packages' import graph.
func TestLibraryDeps(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("go command needed to list dependencies: %v", err)
	}
	root := moduleRoot(t)
	var pkgs []string
	for _, dir := range []string{"fdtable", "poller", "pollers", "conformance", "internal", "loop", "evnet"} {
		if _, err := os.Stat(filepath.Join(root, dir)); err == nil {
			pkgs = append(pkgs, "./"+dir+"/...")
		}
	}
	cmd := exec.Command("go", append([]string{"list", "-deps", "-test=false"}, pkgs...)...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	deps := strings.Fields(string(out))
	assert.Contains(t, deps, "github.com/evpoll/evpoll/poller", "the listing covers the library")
	for _, d := range deps {
		for _, bad := range []string{"gonum.org/", "golang.org/x/perf", "golang.org/x/image"} {
			assert.False(t, strings.HasPrefix(d, bad), "library packages %v depend on %s", pkgs, d)
		}
	}
}

func moduleRoot(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	require.NoError(t, err)
	return filepath.Dir(strings.TrimSpace(string(out)))
}

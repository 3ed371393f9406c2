package bench

import (
	"bytes"
	"encoding/json"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/perf/benchfmt"
)

var update = flag.Bool("update", false, "rewrite golden files")

func ptr(f float64) *float64 { return &f }

// synthetic is a report made up for the golden files: they check formats,
// never live timings. At fds=100 epoll is faster than raw-epoll in every
// repeat and poll is within noise of it; at fds=2000 select is skipped,
// poll failed and epoll is slower than raw-epoll in every repeat.
func synthetic() *Report {
	s := func(ns ...float64) []Sample {
		var out []Sample
		for _, n := range ns {
			out = append(out, Sample{Rounds: 50, NsPerRound: n, Allocs: 0, Waits: ptr(101)})
		}
		return out
	}
	rep := &Report{
		Machine: Machine{GOOS: "linux", GOARCH: "amd64", CPU: "Synthetic CPU @ 1GHz", Cores: 2,
			Kernel: "Linux 6.0.0-test", GoVersion: "go1.26.0", GOMAXPROCS: 2},
		Kind: "socketpair", Writes: 100, Count: 3, Baseline: "raw-epoll",
		FDs: []int{100, 2000}, Active: []int{100},
		Names: []string{"raw-epoll", "netpoller", "epoll", "poll", "select"},
		Rows: []*Row{
			{Backend: "raw-epoll", FDs: 100, Active: 100, Samples: s(100e3, 110e3, 90e3)},
			{Backend: "netpoller", FDs: 100, Active: 100, Samples: []Sample{{Rounds: 40, NsPerRound: 150e3, MeanNsPerRound: 170e3, Allocs: 2.5}, {Rounds: 40, NsPerRound: 140e3, Allocs: 2}, {Rounds: 40, NsPerRound: 160e3, Allocs: 3}}},
			{Backend: "epoll", FDs: 100, Active: 100, Samples: s(95e3, 100e3, 85e3)},
			{Backend: "poll", FDs: 100, Active: 100, Samples: s(96e3, 99e3, 86e3)},
			{Backend: "select", FDs: 100, Active: 100, Samples: s(120e3, 130e3, 110e3)},
			{Backend: "raw-epoll", FDs: 2000, Active: 100, Samples: s(200e3, 210e3, 190e3)},
			{Backend: "netpoller", FDs: 2000, Active: 100, Samples: []Sample{{Rounds: 30, NsPerRound: 400e3, Allocs: 2}, {Rounds: 30, NsPerRound: 380e3, Allocs: 2}, {Rounds: 30, NsPerRound: 420e3, Allocs: 2}}},
			{Backend: "epoll", FDs: 2000, Active: 100, Samples: s(220e3, 230e3, 200e3)},
			{Backend: "poll", FDs: 2000, Active: 100, Samples: s(2e6), Error: "chain: raw-poll: round stalled at 3 of 200 events"},
			{Backend: "select", FDs: 2000, Active: 100, Skipped: "select cannot watch fds at or above FD_SETSIZE (1024) on this OS, and this point opens fds up to 2010"},
		},
	}
	rep.computeRatios()
	return rep
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("output differs from %s (-want +got):\n%s", path, d)
	}
}

func TestFormatsGolden(t *testing.T) {
	for _, format := range []string{"text", "csv", "json", "bench"} {
		t.Run("format="+format, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, write(&buf, format, synthetic()))
			golden(t, format+".golden", buf.Bytes())
		})
	}
}

// TestRatiosPaired: a row's ratios are taken repeat by repeat, not from
// the medians.
func TestRatiosPaired(t *testing.T) {
	rep := synthetic()
	r := rep.row("epoll", 100, 100)
	assert.InDeltaSlice(t, []float64{0.95, 100.0 / 110, 85.0 / 90}, r.Ratios, 1e-9)
	assert.InDelta(t, 0.95, r.Ratio.Max, 1e-9)
	assert.InDelta(t, 100.0/110, r.Ratio.Min, 1e-9)
	assert.Nil(t, rep.row("select", 2000, 100).Ratio, "a skipped row has no ratio")
	assert.Nil(t, rep.row("poll", 2000, 100).Ratio, "a failed row has no ratio")
}

func TestVerdict(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Report)
		want string
	}{
		{"synthetic", func(*Report) {}, "verdict: fastest evpoll backend: epoll (poll within noise) at fds 100, epoll at fds 2000; vs raw-epoll: faster at fds 100, slower at fds 2000; vs netpoller: faster at fds 100-2000."},
		{"two active values", func(rep *Report) {
			rep.Active = []int{1, 100}
			for _, r := range rep.Rows {
				c := *r
				c.Active = 1
				rep.Rows = append(rep.Rows, &c)
			}
		}, "verdict: active=1: fastest evpoll backend: epoll (poll within noise) at fds 100, epoll at fds 2000; vs raw-epoll: faster at fds 100, slower at fds 2000; vs netpoller: faster at fds 100-2000; active=100: fastest evpoll backend: epoll (poll within noise) at fds 100, epoll at fds 2000; vs raw-epoll: faster at fds 100, slower at fds 2000; vs netpoller: faster at fds 100-2000."},
		{"baselines only", func(rep *Report) { rep.Names = []string{"raw-epoll", "netpoller"} }, "verdict: fastest: raw-epoll at fds 100-2000."},
		{"nothing measured at one column", func(rep *Report) {
			for _, r := range rep.Rows {
				if r.FDs == 2000 {
					r.Samples = nil
				}
			}
		}, "verdict: fastest evpoll backend: epoll (poll within noise) at fds 100, nothing measured at fds 2000; vs raw-epoll: faster at fds 100, not compared at fds 2000; vs netpoller: faster at fds 100, not compared at fds 2000."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := synthetic()
			tc.edit(rep)
			assert.Equal(t, tc.want, rep.verdict())
		})
	}
}

// TestBenchParses: the bench format reads back with benchfmt, with the
// header benchstat groups on and one result per repeat.
func TestBenchParses(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, write(&buf, "bench", synthetic()))
	rd := benchfmt.NewReader(&buf, "bench")
	n := 0
	for rd.Scan() {
		res, ok := rd.Result().(*benchfmt.Result)
		require.True(t, ok, "%v", rd.Result())
		for _, k := range []string{"goos", "goarch", "pkg", "cpu"} {
			assert.NotEmpty(t, res.GetConfig(k), k)
		}
		_, parts := res.Name.Parts()
		require.Len(t, parts, 3)
		assert.True(t, strings.HasPrefix(string(parts[0]), "/backend="), "%s", parts[0])
		n++
	}
	require.NoError(t, rd.Err())
	assert.Equal(t, 3*8+1, n, "one result per sample")
}

func TestJSONHasEverySample(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, write(&buf, "json", synthetic()))
	var rep Report
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rep))
	assert.Equal(t, synthetic(), &rep)
}

func TestPlot(t *testing.T) {
	dir := t.TempDir()
	svg := filepath.Join(dir, "p.svg")
	require.NoError(t, writePlot(svg, synthetic()))
	b, err := os.ReadFile(svg)
	require.NoError(t, err)
	assert.Contains(t, string(b), "<svg")
	for _, name := range synthetic().Names {
		assert.Contains(t, string(b), ">"+name+"<", "legend entry for %s", name)
	}
	pngPath := filepath.Join(dir, "p.png")
	require.NoError(t, writePlot(pngPath, synthetic()))
	f, err := os.Open(pngPath)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	assert.Greater(t, img.Bounds().Dx(), 100)

	empty := synthetic()
	empty.Rows = nil
	assert.ErrorContains(t, writePlot(filepath.Join(dir, "e.svg"), empty), "nothing was measured")
}

func TestFmtRatio(t *testing.T) {
	for x, want := range map[float64]string{0.0041: "0.004", 0.1: "0.10", 1.234: "1.23", 99.94: "99.94", 1236.4: "1236"} {
		assert.Equal(t, want, fmtRatio(x), "%v", x)
	}
}

func TestTicks125(t *testing.T) {
	var labels []string
	for _, tk := range (ticks125{}).Ticks(80, 600) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	assert.Equal(t, []string{"100", "200", "500"}, labels)
	assert.Empty(t, (ticks125{}).Ticks(0, 10))
}

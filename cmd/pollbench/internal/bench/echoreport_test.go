package bench

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/perf/benchfmt"
)

// syntheticEcho is a report with known numbers: at conns=10 evnet/1
// costs 0.5x net's CPU and evnet/2 0.9x; at conns=100 evnet/1 0.7x and
// evnet/2 failed.
func syntheticEcho() *EchoReport {
	sample := func(perSec, cpuUS float64) EchoSample {
		return EchoSample{RoundTrips: int64(perSec), Seconds: 1, CPUSeconds: perSec * cpuUS / 1e6, PerSecond: perSec, CPUus: cpuUS}
	}
	rep := &EchoReport{Machine: Machine{GOOS: "linux", GOARCH: "amd64", CPU: "test CPU", Cores: 2},
		Workload: "echo", EchoSetup: EchoSetup{MsgSize: 64, Duration: 1, Pinned: true, Count: 2}, Conns: []int{10, 100}, Threads: []int{1, 2}}
	for _, conns := range rep.Conns {
		cpu := map[int]float64{10: 10, 100: 14}[conns]
		net := &EchoRow{Server: "net", Conns: conns, Samples: []EchoSample{sample(1000, 20), sample(1000, 20)}}
		one := &EchoRow{Server: "evnet", Threads: 1, Conns: conns, Samples: []EchoSample{sample(1500, cpu), sample(1500, cpu)}}
		two := &EchoRow{Server: "evnet", Threads: 2, Conns: conns, Samples: []EchoSample{sample(1200, 18), sample(1200, 18)}}
		if conns == 100 {
			two = &EchoRow{Server: "evnet", Threads: 2, Conns: conns, Error: "client failed"}
		}
		one.ratios(net)
		two.ratios(net)
		rep.Rows = append(rep.Rows, net, one, two)
	}
	return rep
}

func TestEchoVerdict(t *testing.T) {
	rep := syntheticEcho()
	assert.Equal(t, "verdict: server CPU per round trip against net, target at most 0.75x: "+
		"evnet/1 meets it at every conns (at most 0.70x); "+
		"evnet/2 misses it at conns=10 (0.90x) (not measured at conns=100)", rep.verdict())
}

// A thread count with no measurement at all says so.
func TestEchoVerdictNothingMeasured(t *testing.T) {
	rep := syntheticEcho()
	rep.Threads = []int{3}
	rep.Rows = append(rep.Rows, &EchoRow{Server: "evnet", Threads: 3, Conns: 10, Error: "failed"})
	assert.Equal(t, "verdict: server CPU per round trip against net, target at most 0.75x: evnet/3 not measured", rep.verdict())
}

func TestEchoText(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, write(&out, "text", syntheticEcho()))
	s := out.String()
	assert.True(t, strings.HasPrefix(s, "pollbench: echo, 64-byte round trips from a client process (pinned to CPU 1), 1s per sample, paired repeats: 2, ratios to net\n"), s)
	assert.Regexp(t, `\n10 +evnet/1 +1500 +1\.50x \(1\.50-1\.50\) +10\.00µs +0\.50x \(0\.50-0\.50\)\n`, s)
	assert.Regexp(t, `\n100 +evnet/2 +FAILED +FAILED *\n`, s)
	assert.Contains(t, s, "\nFAILED: evnet/2 at conns=100: client failed\n")
}

func TestEchoCSV(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, write(&out, "csv", syntheticEcho()))
	recs, err := csv.NewReader(&out).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 1+5*2+1, "header, 2 samples for each of 5 rows, 1 line for the failed row")
	assert.Equal(t, []string{"evnet", "1", "10", "1", "1500", "1.000", "1500", "10.000", "0.5000", "1.5000", ""}, recs[3])
	assert.Equal(t, "client failed", recs[len(recs)-1][10])
}

func TestEchoBenchFormat(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, write(&out, "bench", syntheticEcho()))
	r := benchfmt.NewReader(&out, "echo")
	var names []string
	for r.Scan() {
		if res, ok := r.Result().(*benchfmt.Result); ok {
			names = append(names, string(res.Name))
			v, ok := res.Value("cpu-us/rtt")
			assert.True(t, ok)
			assert.Positive(t, v)
		}
	}
	require.NoError(t, r.Err())
	assert.Len(t, names, 10)
	assert.Contains(t, names, "Echo/server=evnet/threads=2/conns=10")
}

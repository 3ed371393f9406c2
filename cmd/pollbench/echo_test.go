package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echoTiny keeps live echo runs short: one repeat of 300 ms per server.
var echoTiny = []string{"-workload", "echo", "-conns", "10", "-threads", "1", "-duration", "300ms", "-count", "1"}

// TestEchoRun: a short echo run exits 0 with a row per server, each with
// round trips and CPU, and ends with the verdict.
func TestEchoRun(t *testing.T) {
	stdout, stderr, code := runPollbench(t, 0, echoTiny...)
	require.Equal(t, 0, code, stderr)
	assert.Empty(t, stderr)
	assert.True(t, strings.HasPrefix(stdout, "pollbench: echo, 64-byte round trips from a client process"), stdout)
	assert.Regexp(t, `\nconns +server +round trips/s +vs net +server CPU/round trip +vs net\n`, stdout)
	assert.Regexp(t, `\n10 +net +[1-9][0-9]* +1\.00x \(baseline\) +[0-9.]+µs +1\.00x \(baseline\)\n`, stdout)
	assert.Regexp(t, `\n10 +evnet/1 +[1-9][0-9]* +[0-9.]+x \([0-9.]+-[0-9.]+\) +[0-9.]+µs +[0-9.]+x \([0-9.]+-[0-9.]+\)\n`, stdout)
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	assert.Regexp(t, `^verdict: server CPU per round trip against net, target at most 0\.75x: evnet/1 (meets|misses) it`, lines[len(lines)-1])
}

// TestEchoJSON: -format json carries every sample with positive counts
// and the paired ratios.
func TestEchoJSON(t *testing.T) {
	stdout, stderr, code := runPollbench(t, 0, append(echoTiny, "-format", "json")...)
	require.Equal(t, 0, code, stderr)
	var rep struct {
		Workload string `json:"workload"`
		Results  []struct {
			Server    string    `json:"server"`
			Threads   int       `json:"threads"`
			Conns     int       `json:"conns"`
			CPURatios []float64 `json:"cpu_ratios"`
			Samples   []struct {
				RoundTrips int64   `json:"round_trips"`
				CPUus      float64 `json:"server_cpu_us_per_round_trip"`
			} `json:"samples"`
		} `json:"results"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep), stdout)
	assert.Equal(t, "echo", rep.Workload)
	require.Len(t, rep.Results, 2)
	assert.Equal(t, "net", rep.Results[0].Server)
	assert.Equal(t, "evnet", rep.Results[1].Server)
	assert.Equal(t, 1, rep.Results[1].Threads)
	assert.Len(t, rep.Results[1].CPURatios, 1)
	for _, r := range rep.Results {
		assert.Equal(t, 10, r.Conns)
		require.Len(t, r.Samples, 1)
		assert.Positive(t, r.Samples[0].RoundTrips)
		assert.Positive(t, r.Samples[0].CPUus)
	}
}

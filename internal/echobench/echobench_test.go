package echobench

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestMain runs the client when the test binary is re-executed as one,
// and otherwise the tests, failing them if they leave goroutines behind.
func TestMain(m *testing.M) {
	ClientMain()
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("os/signal.signal_recv"))
}

// A short run against the net server completes round trips, charges them
// CPU time and leaves the server closable.
func TestMeasureNetServer(t *testing.T) {
	s, err := StartNet()
	require.NoError(t, err)
	res, err := Measure(s.Addr(), 4, 200*time.Millisecond)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	assert.Positive(t, res.RoundTrips)
	assert.Positive(t, res.CPU)
	assert.GreaterOrEqual(t, res.Wall, 150*time.Millisecond)
	assert.InDelta(t, float64(res.RoundTrips)/res.Wall.Seconds(), res.PerSecond(), 1e-6)
	assert.Positive(t, res.CPUPerRoundTrip())
}

func TestMeasureErrors(t *testing.T) {
	_, err := Measure("127.0.0.1:1", 0, time.Second)
	assert.ErrorContains(t, err, "at least one connection")
	// A port nobody listens on: the client fails to connect and says so.
	s, err := StartNet()
	require.NoError(t, err)
	addr := s.Addr()
	require.NoError(t, s.Close())
	_, err = Measure(addr, 2, 100*time.Millisecond)
	assert.ErrorContains(t, err, "connection refused")
}

func TestClientBadSpec(t *testing.T) {
	var out, errb bytes.Buffer
	assert.Equal(t, 2, runClient("nonsense", &out, &errb))
	assert.Contains(t, errb.String(), clientEnv)
	assert.Empty(t, out.String())
}

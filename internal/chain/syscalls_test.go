package chain

import (
	"testing"

	"github.com/evpoll/evpoll/poller"
	"github.com/evpoll/evpoll/pollers/poll"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPollSyscallsMatchRaw: in steady state evpoll's poll path makes the
// system calls the hand-written poll loop makes and no others: one poll(2)
// per cycle where the raw loop makes one per wait (the same chain: one
// event per wait), and no change to the pollfd array, since the
// registrations do not change between rounds.
func TestPollSyscallsMatchRaw(t *testing.T) {
	syscallsMatchRaw(t, RawPoll, poll.Backend)
}

// syscallsMatchRaw runs the same rounds on baseline and on backend and
// compares the system calls, counted by the backend's own seams
// (KernelWaits, KernelUpdates): as many kernel waits as the hand-written
// loop, and no registration change. Reads and writes are the workload's
// own, the same for both.
func syscallsMatchRaw(t *testing.T, baseline string, backend poller.Backend) {
	cfg := Config{FDs: 10, Active: 1, Writes: 50}
	raw, err := NewBaseline(baseline, cfg)
	require.NoError(t, err)
	defer raw.Close()
	ev, err := New(backend, cfg)
	require.NoError(t, err)
	defer ev.Close()
	p := ev.(*evRunner).p.(interface {
		KernelWaits() uint64
		KernelUpdates() uint64
	})
	const rounds = 4
	waits, updates := p.KernelWaits(), p.KernelUpdates()
	for range rounds {
		_, err := raw.Round()
		require.NoError(t, err)
		_, err = ev.Round()
		require.NoError(t, err)
	}
	assert.Equal(t, uint64(raw.(Counter).Counts().Waits), p.KernelWaits()-waits, "kernel waits: %s vs %s", backend.Name, baseline)
	assert.Positive(t, p.KernelWaits()-waits, "kernel waits")
	assert.Zero(t, p.KernelUpdates()-updates, "registration changes in steady state")
}

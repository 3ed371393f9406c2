package chain

import (
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/evpoll/evpoll/poller"
	_ "github.com/evpoll/evpoll/pollers"
	selectpoll "github.com/evpoll/evpoll/pollers/select"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{FDs: 0, Active: 1},
		{FDs: 3, Active: 1},
		{FDs: 4, Active: 0},
		{FDs: 4, Active: 5},
		{FDs: 4, Active: 1, Writes: -1},
		{FDs: 0, Active: 1, Kind: Pipe},
		{FDs: 4, Active: 1, Kind: Kind(7)},
	} {
		for _, name := range Baselines() {
			_, err := NewBaseline(name, c)
			assert.Error(t, err, "%s accepted %+v", name, c)
		}
	}
	// Pipes and eventfds need no pairs: an odd count is fine.
	r, err := NewBaseline(RawPoll, Config{FDs: 3, Active: 1, Kind: Pipe})
	require.NoError(t, err)
	assert.NoError(t, r.Close())
}

func TestParseKind(t *testing.T) {
	for _, k := range Kinds() {
		got, err := ParseKind(k.String())
		require.NoError(t, err)
		assert.Equal(t, k, got)
	}
	_, err := ParseKind("fifo")
	assert.ErrorContains(t, err, `unknown kind "fifo"`)
	assert.Contains(t, Kinds(), Socketpair)
	assert.Contains(t, Kinds(), Pipe)
	_, err = ParseKind("eventfd")
	if runtime.GOOS == "linux" {
		assert.NoError(t, err)
	} else {
		assert.ErrorIs(t, err, errNoEventfd)
	}
}

func TestUnknownBaseline(t *testing.T) {
	_, err := NewBaseline("raw-kqueue", Config{FDs: 2, Active: 1})
	assert.ErrorContains(t, err, `unknown baseline "raw-kqueue"`)
}

// runners returns a constructor for every baseline and backend of this
// system, by name.
func runners(t *testing.T) map[string]func(Config) (Runner, error) {
	m := map[string]func(Config) (Runner, error){}
	for _, name := range Baselines() {
		m[name] = func(c Config) (Runner, error) { return NewBaseline(name, c) }
	}
	cands, err := poller.Candidates()
	require.NoError(t, err)
	for _, be := range cands {
		m[be.Name] = func(c Config) (Runner, error) { return New(be, c) }
	}
	return m
}

// TestRounds: on every runner and kind, every round delivers exactly
// active+writes events, and the counting runners count exactly the
// workload's reads and writes and at least one wait per round.
func TestRounds(t *testing.T) {
	const rounds = 5
	for name, newRunner := range runners(t) {
		for _, kind := range Kinds() {
			for _, cfg := range []Config{{FDs: 8, Active: 2, Writes: 20}, {FDs: 40, Active: 40, Writes: 3}, {FDs: 2, Active: 1, Writes: 0}} {
				cfg.Kind = kind
				t.Run(fmt.Sprintf("runner=%s/kind=%s/fds=%d/active=%d", name, kind, cfg.FDs, cfg.Active), func(t *testing.T) {
					r, err := newRunner(cfg)
					require.NoError(t, err)
					defer func() { assert.NoError(t, r.Close()) }()
					want := cfg.Active + cfg.Writes
					for i := 0; i < rounds; i++ {
						n, err := r.Round()
						require.NoError(t, err, "round %d", i)
						require.Equal(t, want, n, "round %d", i)
					}
					c, ok := r.(Counter)
					if name == Netpoller {
						assert.False(t, ok, "the netpoller cannot count its syscalls")
						return
					}
					require.True(t, ok, "%s does not count its syscalls", name)
					got := c.Counts()
					assert.Equal(t, int64(rounds*want), got.Reads, "reads")
					assert.Equal(t, int64(rounds*want), got.Writes, "writes (first ones and chained)")
					assert.GreaterOrEqual(t, got.Waits, int64(rounds), "waits")
					assert.LessOrEqual(t, got.Waits, int64(rounds*(want+2)), "waits")
				})
			}
		}
	}
}

// TestRawZeroAllocs: the hand-written loops allocate nothing per round
// (they are the bar evpoll's zero-allocation target is measured against).
func TestRawZeroAllocs(t *testing.T) {
	for _, name := range []string{RawEpoll, RawPoll} {
		if !IsBaseline(name) {
			continue
		}
		for _, kind := range Kinds() {
			t.Run(name+"/"+kind.String(), func(t *testing.T) {
				r, err := NewBaseline(name, Config{FDs: 100, Active: 10, Writes: 100, Kind: kind})
				require.NoError(t, err)
				defer r.Close()
				var rerr error
				allocs := testing.AllocsPerRun(50, func() {
					if _, err := r.Round(); err != nil {
						rerr = err
					}
				})
				require.NoError(t, rerr)
				assert.Zero(t, allocs, "allocations per round")
			})
		}
	}
}

// TestRawEpollWaitsPerRound: with one chain, every wait of raw-epoll
// returns exactly the one fd the previous write made readable, so a round
// takes exactly active+writes waits and nothing else.
func TestRawEpollWaitsPerRound(t *testing.T) {
	if !IsBaseline(RawEpoll) {
		t.Skip("epoll is Linux only")
	}
	r, err := NewBaseline(RawEpoll, Config{FDs: 10, Active: 1, Writes: 50})
	require.NoError(t, err)
	defer r.Close()
	for i := 0; i < 4; i++ {
		_, err := r.Round()
		require.NoError(t, err)
	}
	assert.Equal(t, Counts{Waits: 4 * 51, Reads: 4 * 51, Writes: 4 * 51}, r.(Counter).Counts())
}

// TestBackendTestRefusal: a point beyond what a backend's Test accepts is
// an *ErrBackendTest wrapping the backend's own error.
func TestBackendTestRefusal(t *testing.T) {
	r, err := New(selectpoll.Backend, Config{FDs: selectpoll.SetSize + 100, Active: 1, Writes: 1})
	if err == nil {
		r.Close()
		t.Fatal("select accepted fds beyond FD_SETSIZE")
	}
	var bt *ErrBackendTest
	require.True(t, errors.As(err, &bt), "error %v is not an *ErrBackendTest", err)
	assert.Equal(t, "select", bt.Backend)
	assert.GreaterOrEqual(t, bt.MaxFD, selectpoll.SetSize)
	assert.ErrorIs(t, err, selectpoll.ErrFDSetSize)
}

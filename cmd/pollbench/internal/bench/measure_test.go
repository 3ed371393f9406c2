package bench

import (
	"errors"
	"testing"
	"time"

	"github.com/evpoll/evpoll/internal/chain"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeRunner completes every round at once, or fails its second round.
type fakeRunner struct {
	cfg  chain.Config
	fail bool
	n    int
}

func (f *fakeRunner) Round() (int, error) {
	f.n++
	if f.fail && f.n == 2 {
		return 0, errors.New("fake: round broke")
	}
	return f.cfg.Active + f.cfg.Writes, nil
}

func (f *fakeRunner) Close() error { return nil }

// TestMeasureAllPairs: every row gets one sample per repeat, each repeat
// starts one name further on, a refused Test is a skip that is not
// retried, and a failed round marks only its row and is returned.
func TestMeasureAllPairs(t *testing.T) {
	var opened []string
	openRunner = func(name string, cfg chain.Config) (chain.Runner, error) {
		opened = append(opened, name)
		switch name {
		case "select":
			return nil, &chain.ErrBackendTest{Backend: "select", MaxFD: 9, Err: errors.New("too big")}
		case "poll":
			return &fakeRunner{cfg: cfg, fail: cfg.FDs == 20}, nil
		}
		return &fakeRunner{cfg: cfg}, nil
	}
	defer func() { openRunner = newRunner }()
	o := &options{names: []string{"raw-poll", "epoll", "poll", "select"}, baseline: "raw-poll",
		fds: []int{10, 20}, active: []int{1}, writes: 3, rounds: 4, warmup: 1, count: 3, maxTime: time.Second}
	rep := &Report{Baseline: o.baseline, FDs: o.fds, Active: o.active, Names: o.names}
	err := measureAll(o, rep)
	require.ErrorContains(t, err, "poll at fds=20 active=1: fake: round broke")

	// fds=10: rotation raw-poll epoll poll select, then epoll poll select
	// raw-poll (select skipped from then on), then poll raw-poll epoll.
	assert.Equal(t, []string{
		"raw-poll", "epoll", "poll", "select",
		"epoll", "poll", "raw-poll",
		"poll", "raw-poll", "epoll",
	}, opened[:10])
	for _, name := range []string{"raw-poll", "epoll", "poll"} {
		r := rep.row(name, 10, 1)
		assert.Len(t, r.Samples, 3, name)
		assert.Len(t, r.Ratios, 3, name)
		for _, s := range r.Samples {
			assert.Equal(t, 4, s.Rounds)
		}
	}
	sel := rep.row("select", 10, 1)
	assert.Empty(t, sel.Samples)
	assert.Contains(t, sel.Skipped, "select cannot watch fd 9")
	failed := rep.row("poll", 20, 1)
	assert.Contains(t, failed.Error, "round broke")
	assert.Empty(t, failed.Samples, "a failed row keeps no samples")
	assert.Len(t, rep.row("epoll", 20, 1).Samples, 3, "other rows of the point are still measured")
}

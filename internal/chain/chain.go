package chain

import (
	"fmt"
	"time"
)

// Runner runs rounds of the workload.
type Runner interface {
	// Round runs one round and returns the number of read events it
	// handled, which is Active+Writes when the round completed.
	Round() (int, error)
	// Close releases every fd and goroutine.
	Close() error
}

// Counts are the system calls a runner made, summed over its rounds. The
// loops written on x/sys ([RawEpoll], [RawPoll]) count their kernel waits;
// an evpoll runner counts its calls to Poll, each of which makes at least
// one kernel wait. Reads and writes are the workload's own, the same for
// every runner.
type Counts struct {
	Waits  int64 // kernel waits (epoll_wait, poll) or Poll calls
	Reads  int64 // read(2) calls on registered fds
	Writes int64 // write(2) calls, the round's first writes included
}

// Counter is implemented by runners that count their system calls.
type Counter interface {
	Counts() Counts
}

// Config is one point of the sweep.
type Config struct {
	FDs    int  // registered fds
	Active int  // fds made readable at the start of a round
	Writes int  // chained writes per round
	Kind   Kind // what the fds are; the zero value is Socketpair
}

func (c Config) validate() error {
	switch {
	case c.Kind == Socketpair && (c.FDs < 2 || c.FDs%2 != 0):
		return fmt.Errorf("chain: fds=%d: socket pairs need an even number >= 2", c.FDs)
	case c.FDs < 1:
		return fmt.Errorf("chain: fds=%d: need at least 1", c.FDs)
	case c.Active < 1 || c.Active > c.FDs:
		return fmt.Errorf("chain: active=%d: need 1..fds (%d)", c.Active, c.FDs)
	case c.Writes < 0:
		return fmt.Errorf("chain: writes=%d: must not be negative", c.Writes)
	}
	return c.Kind.supported()
}

// roundTimeout bounds a round that stopped making progress.
const roundTimeout = 10 * time.Second

// waitMs is the timeout of one kernel wait, in milliseconds.
const waitMs = 100

// idle tracks waits that brought no event: a round that made no progress
// for roundTimeout has stalled.
type idle struct {
	since time.Time // zero while the round makes progress
}

// progress records whether the last wait brought events and reports
// whether the round has stalled.
func (i *idle) progress(any bool) (stalled bool) {
	switch {
	case any:
		i.since = time.Time{}
	case i.since.IsZero():
		i.since = time.Now()
	default:
		return time.Since(i.since) >= roundTimeout
	}
	return false
}

// add adds one round to the counts: the first writes, the chained writes
// made (writes less those left) and the reads.
func (c *Counts) add(cfg Config, fired, left int) {
	c.Reads += int64(fired)
	c.Writes += int64(cfg.Active + cfg.Writes - left)
}

func stallError(name string, fired, want int) error {
	return fmt.Errorf("chain: %s: round stalled at %d of %d events", name, fired, want)
}

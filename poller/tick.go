package poller

import (
	"sync/atomic"
	"time"
)

// Tick is a date in milliseconds on a wrapping 32-bit clock (HAProxy's
// ticks). Two ticks are compared by the sign of their difference, so they
// must lie within 2^31 ms (about 24.8 days) of each other. The value 0,
// [Eternity], means "not set".
type Tick uint32

// Eternity is the unset tick: no expiry.
const Eternity Tick = 0

// MaxDelayMS caps every poll timeout (HAProxy's MAX_DELAY_MS).
const MaxDelayMS = 1000

// IsSet reports whether t is not Eternity (tick_isset).
func (t Tick) IsSet() bool { return t != Eternity }

// Add returns t+ms, bumped to 1 if the sum lands on Eternity (tick_add).
func (t Tick) Add(ms int) Tick {
	r := t + Tick(int32(ms))
	if r == Eternity {
		r = 1
	}
	return r
}

// Before reports whether t is strictly earlier than u (tick_is_lt). Neither
// may be Eternity.
func (t Tick) Before(u Tick) bool { return int32(t-u) < 0 }

// BeforeOrEqual reports whether t is not later than u (tick_is_le).
func (t Tick) BeforeOrEqual(u Tick) bool { return int32(t-u) <= 0 }

// IsExpired reports whether t is set and not later than now
// (tick_is_expired).
func (t Tick) IsExpired(now Tick) bool { return t.IsSet() && int32(t-now) <= 0 }

// First returns the earlier of t and u, Eternity counting as +infinity
// (tick_first).
func (t Tick) First(u Tick) Tick {
	if !t.IsSet() {
		return u
	}
	if !u.IsSet() {
		return t
	}
	if int32(t-u) <= 0 {
		return t
	}
	return u
}

// Remain returns the milliseconds from now until t, 0 if t has expired
// (tick_remain). t must be set.
func (t Tick) Remain(now Tick) int {
	d := int32(t - now)
	if d <= 0 {
		return 0
	}
	return int(d)
}

// Clock reads ticks from Go's monotonic clock: milliseconds since the clock
// was created plus an offset. The offset lets tests start near the 2^32
// wrap. A Clock is safe for concurrent use.
type Clock struct {
	base   time.Time
	offset atomic.Uint32
}

// NewClock returns a clock whose first tick is start.
func NewClock(start Tick) *Clock {
	c := &Clock{base: time.Now()}
	c.offset.Store(uint32(start))
	return c
}

// Now returns the current tick. It may be 0 once every 49.7 days, like
// HAProxy's now_ms; only computed dates avoid Eternity.
func (c *Clock) Now() Tick { return c.at(c.Nanotime()) }

// at returns the tick of the monotonic reading ns (from Nanotime).
func (c *Clock) at(ns int64) Tick {
	return Tick(uint32(ns/int64(time.Millisecond)) + c.offset.Load())
}

// Nanotime returns the monotonic nanoseconds since the clock was created.
func (c *Clock) Nanotime() int64 { return int64(time.Since(c.base)) }

// Advance moves the clock forward by ms milliseconds (for tests of timers
// across the wrap).
func (c *Clock) Advance(ms uint32) { c.offset.Add(ms) }

package poller

import (
	"testing"
)

func TestNewContext(t *testing.T) {
	ctx := newTestContext(t, 5)
	if ctx.Table == nil || ctx.Table != ctx.Thread.Table() {
		t.Errorf("Table = %p, want the thread's table %p", ctx.Table, ctx.Thread.Table())
	}
	if ctx.MaxEvents != DefaultMaxEvents || ctx.EventsPerPoll() != DefaultMaxEvents {
		t.Errorf("MaxEvents %d, EventsPerPoll %d; want %d", ctx.MaxEvents, ctx.EventsPerPoll(), DefaultMaxEvents)
	}
	if ctx.Sleeping == nil || ctx.Clock == nil {
		t.Fatal("NewContext left Sleeping or Clock nil")
	}
	if !ctx.Now().IsSet() {
		t.Errorf("Now() = Eternity right after NewContext")
	}
	if ctx.BusyPolling.Load() {
		t.Error("busy polling on by default")
	}
	for _, tt := range []struct{ max, want int }{{0, DefaultMaxEvents}, {-3, DefaultMaxEvents}, {1, 1}, {1000, 1000}} {
		ctx.MaxEvents = tt.max
		if got := ctx.EventsPerPoll(); got != tt.want {
			t.Errorf("MaxEvents %d: EventsPerPoll() = %d, want %d", tt.max, got, tt.want)
		}
	}
}

func TestUpdateTime(t *testing.T) {
	ctx := newTestContext(t, 0)
	ctx.Clock = NewClock(0xFFFFFFFE)
	before := ctx.Now()
	ctx.Clock.Advance(10)
	now := ctx.UpdateTime()
	if now != ctx.Now() || !before.Before(now) || dist(now, 0xFFFFFFFE) < 10 {
		t.Errorf("UpdateTime() = %#x, Now() = %#x, before %#x", uint32(now), uint32(ctx.Now()), uint32(before))
	}
}

// wantTimeout is compute_poll_timeout's result for exp at now.
func wantTimeout(exp, now Tick) int {
	if !exp.IsSet() {
		return MaxDelayMS
	}
	d := dist(exp, now)
	if d <= 0 {
		return 0
	}
	return min(int(d)+1, MaxDelayMS)
}

// Reference §7.1 and §15 F48, with now both far from and near the wrap.
func TestComputeTimeout(t *testing.T) {
	for _, start := range []Tick{1, 0x7ffffff0, 0xFFFFFFF8} {
		ctx := newTestContext(t, 0)
		ctx.Clock = NewClock(start)

		if got := ctx.computeTimeout(Eternity); got != 1000 {
			t.Errorf("start %#x: computeTimeout(Eternity) = %d, want 1000", uint32(start), got)
		}
		if n := ctx.Activity.PollExp.Load(); n != 0 {
			t.Errorf("Eternity counted poll_exp %d", n)
		}

		tests := []struct {
			name  string
			delta int
			want  int // when the clock does not move during the call
		}{
			{"now+10", 10, 11},
			{"now+1", 1, 2},
			{"now+998", 998, 999},
			{"now+999", 999, 1000},
			{"now+1000", 1000, 1000},
			{"now+5000", 5000, 1000},
			{"now+2^31-1", 0x7fffffff, 1000},
			{"now", 0, 0},
			{"now-1", -1, 0},
			{"now-5000", -5000, 0},
			{"now-2^31+1", -0x7fffffff, 0},
		}
		for _, tt := range tests {
			exact := false
			for attempt := 0; attempt < 100 && !exact; attempt++ {
				now := ctx.UpdateTime()
				exp := now + Tick(int32(tt.delta)) // no bump: exp == now is wanted
				if !exp.IsSet() {
					ctx.Clock.Advance(2)
					continue
				}
				pollExp := ctx.Activity.PollExp.Load()
				got := ctx.computeTimeout(exp)
				after := ctx.Now()
				// Whatever time passed, the result follows the rule
				// for the now it read.
				if want := wantTimeout(exp, after); got != want {
					t.Errorf("start %#x %s: computeTimeout(%#x) at now %#x = %d, want %d",
						uint32(start), tt.name, uint32(exp), uint32(after), got, want)
				}
				wantExp := pollExp
				if got == 0 {
					wantExp++
				}
				if n := ctx.Activity.PollExp.Load(); n != wantExp {
					t.Errorf("start %#x %s: poll_exp %d -> %d, want %d", uint32(start), tt.name, pollExp, n, wantExp)
				}
				if after == now {
					exact = true
					if got != tt.want {
						t.Errorf("start %#x %s: computeTimeout = %d, want %d", uint32(start), tt.name, got, tt.want)
					}
				}
			}
			if !exact {
				t.Errorf("%s: the clock moved during every one of 100 calls", tt.name)
			}
		}
	}
}

// computeTimeout reads the clock itself rather than trusting Now.
func TestComputeTimeoutRereadsClock(t *testing.T) {
	ctx := newTestContext(t, 0)
	exp := ctx.UpdateTime().Add(50)
	ctx.Clock.Advance(100)
	if got := ctx.computeTimeout(exp); got != 0 {
		t.Errorf("timer 50 ms ahead of a stale now, clock 100 ms later: timeout %d, want 0", got)
	}
	if !exp.IsExpired(ctx.Now()) {
		t.Errorf("Now() = %#x not updated past %#x", uint32(ctx.Now()), uint32(exp))
	}
}

// A positive remaining time never becomes a zero wait, and expired dates
// always give 0.
func TestComputeTimeoutNeverZero(t *testing.T) {
	ctx := newTestContext(t, 0)
	ctx.Clock = NewClock(0xFFFFFF00) // runs across the wrap
	for k := -50; k <= 1100; k++ {
		exp := ctx.UpdateTime().Add(k)
		got := ctx.computeTimeout(exp)
		d := dist(exp, ctx.Now())
		if d > 0 && got <= 0 {
			t.Fatalf("exp %#x, now %#x (%d ms left): timeout %d", uint32(exp), uint32(ctx.Now()), d, got)
		}
		if got < 0 || got > MaxDelayMS {
			t.Fatalf("timeout %d out of [0, %d]", got, MaxDelayMS)
		}
		if want := wantTimeout(exp, ctx.Now()); got != want {
			t.Fatalf("exp %#x, now %#x: timeout %d, want %d", uint32(exp), uint32(ctx.Now()), got, want)
		}
		ctx.Clock.Advance(1)
	}
}

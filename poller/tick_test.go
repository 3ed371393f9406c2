package poller

import (
	"math"
	"testing"
	"time"
)

// neg returns the tick holding the two's complement of -v, as a C int tick
// would.
func neg(v int32) Tick { return Tick(uint32(-v)) }

// Reference §15 G60.
func TestTickReference(t *testing.T) {
	if got := neg(5).Add(5); got != 1 {
		t.Errorf("Tick(-5).Add(5) = %d, want 1", got)
	}
	if !Tick(0x7fffffff).Before(Tick(0x80000001)) {
		t.Error("Tick(0x7fffffff).Before(0x80000001) = false, want true (wrap-around)")
	}
	if Tick(0x80000001).Before(Tick(0x7fffffff)) {
		t.Error("Tick(0x80000001).Before(0x7fffffff) = true, want false")
	}
	for _, now := range []Tick{0, 1, 2, 1000, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff} {
		if Eternity.IsExpired(now) {
			t.Errorf("Eternity.IsExpired(%#x) = true", uint32(now))
		}
	}
	for _, tk := range []Tick{Eternity, 1, 0x7fffffff, 0x80000000, 0xffffffff} {
		if got := Eternity.First(tk); got != tk {
			t.Errorf("Eternity.First(%#x) = %#x", uint32(tk), uint32(got))
		}
		if got := tk.First(Eternity); got != tk {
			t.Errorf("%#x.First(Eternity) = %#x", uint32(tk), uint32(got))
		}
	}
}

func TestTickEternityNeverExpiresProperty(t *testing.T) {
	// Every 2^32/65521-th now plus the edges.
	for now := uint64(0); now <= math.MaxUint32; now += 65521 {
		if Eternity.IsExpired(Tick(now)) {
			t.Fatalf("Eternity.IsExpired(%#x) = true", now)
		}
	}
}

func TestTickAdd(t *testing.T) {
	tests := []struct {
		t    Tick
		ms   int
		want Tick
	}{
		{0, 0, 1}, // a computed date never reads as eternity
		{1, 0, 1},
		{1, 10, 11},
		{100, -10, 90},
		{neg(5), 5, 1},
		{neg(1), 1, 1},
		{neg(1), 2, 1},
		{neg(1), 3, 2},
		{0xfffffff0, 0x20, 0x10},
		{0x10, -0x20, 0xfffffff0},
		{0x7fffffff, 1, 0x80000000},
		{0x7fffffff, 2, 0x80000001},
		{5, -5, 1},
		{5, -6, 0xffffffff},
	}
	for _, tt := range tests {
		if got := tt.t.Add(tt.ms); got != tt.want {
			t.Errorf("Tick(%#x).Add(%d) = %#x, want %#x", uint32(tt.t), tt.ms, uint32(got), uint32(tt.want))
		}
	}
}

func TestTickIsSet(t *testing.T) {
	if Eternity.IsSet() {
		t.Error("Eternity.IsSet() = true")
	}
	for _, tk := range []Tick{1, 0x80000000, 0xffffffff} {
		if !tk.IsSet() {
			t.Errorf("Tick(%#x).IsSet() = false", uint32(tk))
		}
	}
}

// Comparisons of dates on both sides of the 2^32 wrap and of the 2^31
// sign boundary.
func TestTickCompareAcrossWrap(t *testing.T) {
	tests := []struct {
		a, b Tick
		// cmp is the sign of a-b as dates: -1 a earlier, 0 equal, 1 later.
		cmp int
	}{
		{1, 2, -1},
		{2, 1, 1},
		{7, 7, 0},
		{0xfffffff0, 0xfffffff0, 0},
		{0xfffffff0, 0xffffffff, -1},
		{0xfffffff0, 0x00000001, -1}, // just below and just above the wrap
		{0xffffffff, 0x00000001, -1},
		{0xffffffff, 0x00000010, -1},
		{0x00000010, 0xfffffff0, 1},
		{0x00000001, 0xffffffff, 1},
		{0x7fffffff, 0x80000000, -1}, // the 2^31 boundary
		{0x80000000, 0x7fffffff, 1},
		{0x7ffffff0, 0x80000010, -1},
		{1, 0x80000000, -1}, // 2^31-1 apart: still ordered
		{0x80000000, 1, 1},
		{0xfffffff0, 0x7fffffef, -1}, // 2^31-1 ahead across the wrap
	}
	for _, tt := range tests {
		lt := tt.cmp < 0
		le := tt.cmp <= 0
		if got := tt.a.Before(tt.b); got != lt {
			t.Errorf("%#x.Before(%#x) = %v, want %v", uint32(tt.a), uint32(tt.b), got, lt)
		}
		if got := tt.a.BeforeOrEqual(tt.b); got != le {
			t.Errorf("%#x.BeforeOrEqual(%#x) = %v, want %v", uint32(tt.a), uint32(tt.b), got, le)
		}
		// IsExpired: a as the expiry date, b as now.
		if got := tt.a.IsExpired(tt.b); got != le {
			t.Errorf("%#x.IsExpired(now=%#x) = %v, want %v", uint32(tt.a), uint32(tt.b), got, le)
		}
		wantFirst := tt.a
		if tt.cmp > 0 {
			wantFirst = tt.b
		}
		if got := tt.a.First(tt.b); got != wantFirst {
			t.Errorf("%#x.First(%#x) = %#x, want %#x", uint32(tt.a), uint32(tt.b), uint32(got), uint32(wantFirst))
		}
	}
}

func TestTickRemain(t *testing.T) {
	tests := []struct {
		exp, now Tick
		want     int
	}{
		{100, 90, 10},
		{100, 100, 0},
		{100, 110, 0},
		{0x00000005, 0xfffffffb, 10}, // across the wrap
		{0xfffffffb, 0x00000005, 0},  // expired across the wrap
		{0x7fffffff, 0, 0x7fffffff},
		{0x80000000, 1, 0x7fffffff},
		{0x80000001, 1, 0}, // 2^31 ahead reads as behind
		{1, neg(1), 2},
	}
	for _, tt := range tests {
		if got := tt.exp.Remain(tt.now); got != tt.want {
			t.Errorf("Tick(%#x).Remain(now=%#x) = %d, want %d", uint32(tt.exp), uint32(tt.now), got, tt.want)
		}
	}
}

// Dates computed from a now just below the wrap compare correctly with
// nows just above it.
func TestTickScheduleAcrossWrap(t *testing.T) {
	for start := Tick(0xffffff00); start != 0x100; start++ {
		if !start.IsSet() || start+50 == Eternity {
			continue // no now reads 0 here; Add bumps a 0 sum (tested above)
		}
		exp := start.Add(50)
		if !exp.IsSet() {
			t.Fatalf("Tick(%#x).Add(50) = Eternity", uint32(start))
		}
		for d := 0; d < 60; d += 7 {
			now := start + Tick(d)
			want := d >= 50
			if got := exp.IsExpired(now); got != want {
				t.Fatalf("exp %#x (start %#x +50), now %#x: IsExpired = %v, want %v",
					uint32(exp), uint32(start), uint32(now), got, want)
			}
			if want {
				continue
			}
			if got := exp.Remain(now); got != 50-d {
				t.Fatalf("exp %#x, now %#x: Remain = %d, want %d", uint32(exp), uint32(now), got, 50-d)
			}
		}
	}
}

func TestClockAcrossWrap(t *testing.T) {
	c := NewClock(0xFFFFFFF0)
	t0 := c.Now()
	if t0 < 0xFFFFFFF0 {
		t.Skipf("16 ms passed between NewClock and Now (t0 %#x)", uint32(t0))
	}
	exp := t0.Add(0x18) // lands just after the wrap
	if exp >= t0 {
		t.Fatalf("exp %#x did not wrap (t0 %#x)", uint32(exp), uint32(t0))
	}
	if !t0.Before(exp) || exp.IsExpired(t0) {
		t.Fatalf("t0 %#x, exp %#x: exp should be later and not expired", uint32(t0), uint32(exp))
	}

	c.Advance(0x08)
	t1 := c.Now()
	if !t0.Before(t1) || dist(t1, t0) < 0x08 {
		t.Fatalf("after Advance(0x08): t0 %#x, t1 %#x", uint32(t0), uint32(t1))
	}
	c.Advance(0x20) // crosses the wrap, whatever t1 was
	t2 := c.Now()
	if t2 >= t0 {
		t.Fatalf("clock did not wrap: t0 %#x, t2 %#x", uint32(t0), uint32(t2))
	}
	if !t1.Before(t2) || !t0.Before(t2) || t2.Before(t1) || t2.Before(t0) || dist(t2, t0) < 0x28 {
		t.Errorf("t0 %#x, t1 %#x, t2 %#x not ordered across the wrap", uint32(t0), uint32(t1), uint32(t2))
	}
	if !exp.IsExpired(t2) || exp.Remain(t2) != 0 {
		t.Errorf("exp %#x not expired at %#x", uint32(exp), uint32(t2))
	}
	if r := exp.Remain(t1); dist(exp, t1) > 0 && r != int(dist(exp, t1)) {
		t.Errorf("exp %#x Remain(%#x) = %d", uint32(exp), uint32(t1), r)
	}

	// Real time moves the clock forward too, and keeps it ordered.
	time.Sleep(3 * time.Millisecond)
	t3 := c.Now()
	if !t2.Before(t3) || dist(t3, t2) < 3 {
		t.Errorf("after 3 ms: t2 %#x, t3 %#x", uint32(t2), uint32(t3))
	}
	if c.Nanotime() < int64(3*time.Millisecond) {
		t.Errorf("Nanotime() = %d after sleeping 3 ms", c.Nanotime())
	}
}

// dist returns the signed distance t-u in milliseconds.
func dist(t, u Tick) int32 { return int32(t - u) }

func TestClockMonotonic(t *testing.T) {
	c := NewClock(0x7ffffff0) // crosses the sign boundary as it runs
	c.Advance(0x0c)
	prev := c.Now()
	for range 1000 {
		c.Advance(1)
		now := c.Now()
		if now.Before(prev) || dist(now, prev) < 1 {
			t.Fatalf("clock went from %#x to %#x", uint32(prev), uint32(now))
		}
		prev = now
	}
}

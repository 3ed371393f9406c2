package poller

import (
	"errors"
	"strings"
	"testing"
)

// FuzzTicks checks tick arithmetic anywhere on the 32-bit circle,
// including across the wrap: Add never yields Eternity, a date ms ahead is
// after now and expires exactly when now reaches it, Remain counts down
// to it, and First picks the earlier date.
func FuzzTicks(f *testing.F) {
	f.Add(uint32(0xfffffff6), int32(10), int32(20))
	f.Add(uint32(0), int32(1), int32(0x7fffffff))
	f.Add(uint32(0x7fffffff), int32(2), int32(-5))
	f.Fuzz(func(t *testing.T, start uint32, d1, d2 int32) {
		now := Tick(start)
		if !now.IsSet() {
			now = 1
		}
		// Dates must lie within 2^31 ms of each other: keep both
		// delays in (0, 2^30).
		a := int(uint32(d1)%(1<<30)) + 1
		b := int(uint32(d2)%(1<<30)) + 1
		ea, eb := now.Add(a), now.Add(b)
		if !ea.IsSet() || !eb.IsSet() {
			t.Fatalf("Add produced Eternity: %d+%d, %d+%d", now, a, now, b)
		}
		if !now.Before(ea) || ea.IsExpired(now) {
			t.Errorf("%d.Add(%d) = %d is not after now", now, a, ea)
		}
		if !ea.IsExpired(ea) || !ea.IsExpired(ea.Add(1)) {
			t.Errorf("%d not expired at itself or a tick later", ea)
		}
		// A sum landing on Eternity is bumped to 1: one more ms.
		if r := ea.Remain(now); r != a && !(r == a+1 && ea == 1) {
			t.Errorf("%d.Remain(%d) = %d, want %d", ea, now, r, a)
		}
		first := ea.First(eb)
		if a <= b && first != ea || a > b && first != eb {
			t.Errorf("First(%d, %d) = %d", ea, eb, first)
		}
		if ea.First(Eternity) != ea || Eternity.First(ea) != ea {
			t.Errorf("First with Eternity is not the set date")
		}
	})
}

// FuzzEnv feeds arbitrary EVPOLL_POLLER and EVPOLL_DISABLE values to the
// registry: it never panics, an accepted setting plans only registered
// backends, the forced one alone, and a rejected one wraps ErrBadEnv or
// ErrDisabled, naming the variable.
func FuzzEnv(f *testing.F) {
	f.Add("poll", "")
	f.Add("", "epoll,poll")
	f.Add("epoll", "epoll")
	f.Add("kqueue", " , ,select")
	f.Add("\x00", ",,,")
	f.Fuzz(func(t *testing.T, force, disable string) {
		r := &registry{}
		for _, n := range []string{"epoll", "poll", "select"} {
			r.Register(Backend{Name: n, Preference: 100, New: func(*Context) (Poller, error) { return nil, errors.New("unused") }})
		}
		env := func(k string) (string, bool) {
			switch k {
			case EnvPoller:
				return force, force != ""
			case EnvDisable:
				return disable, disable != ""
			}
			return "", false
		}
		cands, err := r.Candidates(env)
		if err != nil {
			if !errors.Is(err, ErrBadEnv) && !errors.Is(err, ErrDisabled) {
				t.Fatalf("error %v wraps neither ErrBadEnv nor ErrDisabled", err)
			}
			if !strings.Contains(err.Error(), "EVPOLL_") {
				t.Errorf("error %q does not name the variable", err)
			}
			return
		}
		for _, c := range cands {
			if !r.has(c.Name) {
				t.Errorf("candidate %q is not registered", c.Name)
			}
			for _, d := range strings.Split(disable, ",") {
				if strings.TrimSpace(d) == c.Name {
					t.Errorf("candidate %q was disabled by %q", c.Name, disable)
				}
			}
		}
		if f := strings.TrimSpace(force); f != "" && (len(cands) != 1 || cands[0].Name != f) {
			t.Errorf("%s=%q planned %v, want only %q", EnvPoller, force, cands, f)
		}
	})
}

package poller

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/evpoll/evpoll/fdtable"
)

// fakePoller is the Poller returned by fake backends.
type fakePoller struct{ name string }

func (p *fakePoller) Poll(Tick, bool) error     { return nil }
func (p *fakePoller) Closing(int, uint32, bool) {}
func (p *fakePoller) Fork() error               { return nil }
func (p *fakePoller) Close() error              { return nil }
func (p *fakePoller) Flags() Flags              { return 0 }

// fake describes a fake backend and counts the calls made to it.
type fake struct {
	name    string
	pref    int
	testErr error // returned by Test
	newErr  error // returned by New
	tests   atomic.Int32
	news    atomic.Int32
}

func (f *fake) backend() Backend {
	return Backend{
		Name:       f.name,
		Preference: f.pref,
		Test: func(*fdtable.Table) error {
			f.tests.Add(1)
			return f.testErr
		},
		New: func(*Context) (Poller, error) {
			f.news.Add(1)
			if f.newErr != nil {
				return nil, f.newErr
			}
			return &fakePoller{name: f.name}, nil
		},
	}
}

// newRegistry registers the fakes, in order, in a fresh registry.
func newRegistry(t *testing.T, fakes ...*fake) *registry {
	t.Helper()
	r := &registry{}
	for _, f := range fakes {
		r.Register(f.backend())
	}
	return r
}

// linuxFakes returns the three Linux backends with their HAProxy prefs,
// registered poll first as observed in HAProxy (reference §2.3).
func linuxFakes() (epoll, poll, sel *fake) {
	return &fake{name: "epoll", pref: 300}, &fake{name: "poll", pref: 200}, &fake{name: "select", pref: 150}
}

// env returns an envFunc reading from m.
func env(m map[string]string) envFunc {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// noEnv is an empty environment, so that tests do not depend on the
// process's EVPOLL_* variables.
var noEnv = env(nil)

func newTestContext(t testing.TB, id int) *Context {
	t.Helper()
	tab := fdtable.New(64)
	th, err := tab.NewThread(id)
	if err != nil {
		t.Fatalf("NewThread(%d): %v", id, err)
	}
	t.Cleanup(th.Close)
	return NewContext(th)
}

// mustPanic runs f and checks that it panics with a message containing
// want.
func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatalf("no panic, want one containing %q", want)
		}
		if msg := fmt.Sprint(r); !strings.Contains(msg, want) {
			t.Fatalf("panic %q, want one containing %q", msg, want)
		}
	}()
	f()
}

func TestRegisterPanics(t *testing.T) {
	newFn := func(*Context) (Poller, error) { return &fakePoller{}, nil }
	t.Run("NilNew", func(t *testing.T) {
		r := &registry{}
		mustPanic(t, "poller: Register backend foo with nil New", func() {
			r.Register(Backend{Name: "foo", Preference: 1})
		})
		if n := r.Names(); len(n) != 0 {
			t.Errorf("Names after failed Register = %q, want none", n)
		}
	})
	t.Run("EmptyName", func(t *testing.T) {
		r := &registry{}
		mustPanic(t, "poller: Register backend with empty name", func() {
			r.Register(Backend{Preference: 1, New: newFn})
		})
	})
	t.Run("Duplicate", func(t *testing.T) {
		r := &registry{}
		r.Register(Backend{Name: "foo", Preference: 1, New: newFn})
		mustPanic(t, "poller: Register called twice for backend foo", func() {
			r.Register(Backend{Name: "foo", Preference: 2, New: newFn})
		})
		b, err := r.Lookup("foo")
		if err != nil || b.Preference != 1 {
			t.Errorf("Lookup(foo) = pref %d, %v; want the first registration (pref 1)", b.Preference, err)
		}
	})
}

func TestNames(t *testing.T) {
	r := newRegistry(t, &fake{name: "select", pref: 150}, &fake{name: "epoll", pref: 300},
		&fake{name: "poll", pref: 200}, &fake{name: "kqueue", pref: 300})
	want := []string{"epoll", "kqueue", "poll", "select"}
	if got := r.Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
	if got := (&registry{}).Names(); len(got) != 0 {
		t.Errorf("empty registry: Names() = %q, want none", got)
	}
}

func backendNames(bs []Backend) []string {
	var s []string
	for _, b := range bs {
		s = append(s, fmt.Sprintf("%s/%d", b.Name, b.Preference))
	}
	return s
}

func TestBackendsOrder(t *testing.T) {
	r := newRegistry(t,
		&fake{name: "poll", pref: 200},
		&fake{name: "a300", pref: 300},
		&fake{name: "select", pref: 150},
		&fake{name: "b300", pref: 300},
		&fake{name: "neg", pref: -4},
		&fake{name: "c300", pref: 300},
		&fake{name: "zero", pref: 0},
	)
	want := []string{"a300/300", "b300/300", "c300/300", "poll/200", "select/150", "neg/0", "zero/0"}
	if got := backendNames(r.Backends()); !slices.Equal(got, want) {
		t.Errorf("Backends() = %q, want %q", got, want)
	}

	// A disabled backend moves to pref 0, behind the enabled ones but in
	// registration order among the pref-0 ones.
	if err := r.Disable("a300"); err != nil {
		t.Fatal(err)
	}
	want = []string{"b300/300", "c300/300", "poll/200", "select/150", "a300/0", "neg/0", "zero/0"}
	if got := backendNames(r.Backends()); !slices.Equal(got, want) {
		t.Errorf("after Disable(a300): Backends() = %q, want %q", got, want)
	}
}

// Ties keep registration order however many backends there are (an
// unstable sort only shows itself on longer lists).
func TestBackendsOrderManyTies(t *testing.T) {
	r := &registry{}
	var want []string
	prefs := []int{100, 300, 200}
	for _, p := range []int{300, 200, 100} {
		for i := range 40 {
			if prefs[i%3] == p {
				want = append(want, fmt.Sprintf("b%02d/%d", i, p))
			}
		}
	}
	for i := range 40 {
		f := &fake{name: fmt.Sprintf("b%02d", i), pref: prefs[i%3]}
		r.Register(f.backend())
	}
	if got := backendNames(r.Backends()); !slices.Equal(got, want) {
		t.Errorf("Backends() =\n%q\nwant\n%q", got, want)
	}
	if b, _, err := r.Open(nil, noEnv); err != nil || b.Name != "b01" {
		t.Errorf("Open = %q, %v; want b01, the first of pref 300", b.Name, err)
	}
}

func TestLookup(t *testing.T) {
	epoll, poll, sel := linuxFakes()
	r := newRegistry(t, poll, epoll, sel)
	b, err := r.Lookup("poll")
	if err != nil {
		t.Fatalf("Lookup(poll): %v", err)
	}
	if b.Name != "poll" || b.Preference != 200 || b.New == nil || b.Test == nil {
		t.Errorf("Lookup(poll) = %+v", b)
	}

	_, err = r.Lookup("kqueue")
	if !errors.Is(err, ErrUnknown) {
		t.Fatalf("Lookup(kqueue) error %v, want ErrUnknown", err)
	}
	msg := err.Error()
	if !strings.HasSuffix(msg, "(forgotten import?)") || !strings.Contains(msg, `"kqueue"`) {
		t.Errorf("Lookup(kqueue) error %q, want it to name kqueue and end in (forgotten import?)", msg)
	}
}

func TestDisableEnable(t *testing.T) {
	epoll, poll, sel := linuxFakes()
	r := newRegistry(t, poll, epoll, sel)

	if err := r.Disable("epoll"); err != nil {
		t.Fatalf("Disable(epoll): %v", err)
	}
	if b, _ := r.Lookup("epoll"); b.Preference != 0 {
		t.Errorf("disabled epoll: Lookup pref = %d, want 0", b.Preference)
	}
	if err := r.Disable("epoll"); err != nil {
		t.Errorf("second Disable(epoll): %v", err)
	}
	b, _, err := r.Open(nil, noEnv)
	if err != nil || b.Name != "poll" {
		t.Errorf("Open with epoll disabled = %q, %v; want poll", b.Name, err)
	}

	if err := r.Enable("epoll"); err != nil {
		t.Fatalf("Enable(epoll): %v", err)
	}
	if b, _ := r.Lookup("epoll"); b.Preference != 300 {
		t.Errorf("re-enabled epoll: Lookup pref = %d, want 300", b.Preference)
	}
	b, _, err = r.Open(nil, noEnv)
	if err != nil || b.Name != "epoll" {
		t.Errorf("Open with epoll re-enabled = %q, %v; want epoll", b.Name, err)
	}

	for _, f := range []func(string) error{r.Disable, r.Enable} {
		err := f("devpoll")
		if !errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), "devpoll") {
			t.Errorf("Disable/Enable(devpoll) error %v, want ErrUnknown naming devpoll", err)
		}
	}
	if got := backendNames(r.Backends()); !slices.Equal(got, []string{"epoll/300", "poll/200", "select/150"}) {
		t.Errorf("unknown names changed the registry: %q", got)
	}
}

package poller

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOpenHighestPref(t *testing.T) {
	epoll, poll, sel := linuxFakes()
	r := newRegistry(t, poll, sel, epoll)
	ctx := newTestContext(t, 0)
	b, p, err := r.Open(ctx, noEnv)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if b.Name != "epoll" || p.(*fakePoller).name != "epoll" {
		t.Errorf("Open chose %q (poller %q), want epoll", b.Name, p.(*fakePoller).name)
	}
	if poll.news.Load() != 0 || sel.news.Load() != 0 {
		t.Errorf("lower backends constructed: poll %d, select %d", poll.news.Load(), sel.news.Load())
	}
}

func TestOpenTieFirstRegistered(t *testing.T) {
	a, b := &fake{name: "kqueue", pref: 300}, &fake{name: "epoll", pref: 300}
	r := newRegistry(t, &fake{name: "poll", pref: 200}, a, b)
	got, _, err := r.Open(nil, noEnv)
	if err != nil || got.Name != "kqueue" {
		t.Errorf("Open = %q, %v; want kqueue (first registered of pref 300)", got.Name, err)
	}
	if b.news.Load() != 0 {
		t.Errorf("second backend of the same pref constructed %d times", b.news.Load())
	}
}

// Reference §15 A3: Test is not consulted; a backend whose Test fails but
// whose constructor succeeds is selected.
func TestOpenIgnoresTest(t *testing.T) {
	epoll, poll, sel := linuxFakes()
	epoll.testErr = errors.New("epoll test failed")
	r := newRegistry(t, poll, epoll, sel)
	b, _, err := r.Open(nil, noEnv)
	if err != nil || b.Name != "epoll" {
		t.Errorf("Open = %q, %v; want epoll", b.Name, err)
	}
	for _, f := range []*fake{epoll, poll, sel} {
		if n := f.tests.Load(); n != 0 {
			t.Errorf("Open called %s's Test %d times", f.name, n)
		}
	}
}

// Reference §15 A4: the next backend is tried in the same call.
func TestOpenFallback(t *testing.T) {
	epoll, poll, sel := linuxFakes()
	errEpoll := errors.New("epoll_create: EMFILE")
	epoll.newErr = errEpoll
	r := newRegistry(t, poll, epoll, sel)
	b, p, err := r.Open(nil, noEnv)
	if err != nil || b.Name != "poll" || p == nil {
		t.Fatalf("Open = %q, %v, %v; want poll", b.Name, p, err)
	}
	if epoll.news.Load() != 1 || poll.news.Load() != 1 || sel.news.Load() != 0 {
		t.Errorf("New calls: epoll %d poll %d select %d, want 1 1 0",
			epoll.news.Load(), poll.news.Load(), sel.news.Load())
	}
	// Unlike HAProxy, a failed constructor does not disable the backend
	// in the registry: the next Open tries it again.
	if b, _ := r.Lookup("epoll"); b.Preference != 300 {
		t.Errorf("failed epoll: pref %d, want 300 (registry unchanged)", b.Preference)
	}
	if _, _, err := r.Open(nil, noEnv); err != nil || epoll.news.Load() != 2 {
		t.Errorf("second Open: %v, epoll New calls %d, want 2", err, epoll.news.Load())
	}
}

func TestOpenAllFail(t *testing.T) {
	epoll, poll, sel := linuxFakes()
	errs := map[*fake]error{
		epoll: errors.New("epoll broken"),
		poll:  errors.New("poll broken"),
		sel:   errors.New("select broken"),
	}
	for f, e := range errs {
		f.newErr = e
	}
	r := newRegistry(t, poll, epoll, sel)
	b, p, err := r.Open(nil, noEnv)
	if err == nil || p != nil || b.Name != "" {
		t.Fatalf("Open = %q, %v, %v; want an error", b.Name, p, err)
	}
	if !errors.Is(err, ErrNoBackend) {
		t.Errorf("error %v is not ErrNoBackend", err)
	}
	for f, e := range errs {
		if !errors.Is(err, e) {
			t.Errorf("error %q does not wrap %s's error", err, f.name)
		}
		if !strings.Contains(err.Error(), f.name+": "+e.Error()) {
			t.Errorf("error %q does not list %q", err, f.name+": "+e.Error())
		}
		if f.news.Load() != 1 {
			t.Errorf("%s New called %d times, want 1", f.name, f.news.Load())
		}
	}
}

func TestOpenNilPoller(t *testing.T) {
	r := &registry{}
	r.Register(Backend{Name: "broken", Preference: 300, New: func(*Context) (Poller, error) { return nil, nil }})
	poll := &fake{name: "poll", pref: 200}
	r.Register(poll.backend())
	b, p, err := r.Open(nil, noEnv)
	if err != nil || b.Name != "poll" || p == nil {
		t.Errorf("Open = %q, %v, %v; want poll (a nil Poller is a failure)", b.Name, p, err)
	}
}

func TestOpenNoBackend(t *testing.T) {
	t.Run("Empty", func(t *testing.T) {
		_, p, err := (&registry{}).Open(nil, noEnv)
		if !errors.Is(err, ErrNoBackend) || p != nil {
			t.Errorf("empty registry: Open = %v, %v; want ErrNoBackend", p, err)
		}
	})
	t.Run("AllDisabled", func(t *testing.T) {
		epoll, poll, sel := linuxFakes()
		r := newRegistry(t, poll, epoll, sel)
		for _, n := range r.Names() {
			if err := r.Disable(n); err != nil {
				t.Fatal(err)
			}
		}
		_, p, err := r.Open(nil, noEnv)
		if !errors.Is(err, ErrNoBackend) || p != nil {
			t.Errorf("all disabled: Open = %v, %v; want ErrNoBackend", p, err)
		}
		if n := epoll.news.Load() + poll.news.Load() + sel.news.Load(); n != 0 {
			t.Errorf("disabled backends constructed %d times", n)
		}
	})
	t.Run("ZeroPref", func(t *testing.T) {
		r := newRegistry(t, &fake{name: "off", pref: 0}, &fake{name: "neg", pref: -1})
		if _, _, err := r.Open(nil, noEnv); !errors.Is(err, ErrNoBackend) {
			t.Errorf("only pref <= 0: Open error %v, want ErrNoBackend", err)
		}
	})
}

func TestOpenEnv(t *testing.T) {
	errPoll := errors.New("poll broken")
	tests := []struct {
		name    string
		env     map[string]string
		pollErr error
		// want is the backend chosen; when empty, the error must satisfy
		// errors.Is for every entry of wantIs and mention wantText.
		want     string
		wantIs   []error
		wantText string
		wantNews string // New calls as "epoll poll select"
	}{
		{name: "Unset", want: "epoll", wantNews: "1 0 0"},
		{name: "EmptyValues", env: map[string]string{EnvPoller: " ", EnvDisable: ""}, want: "epoll", wantNews: "1 0 0"},
		{name: "Force", env: map[string]string{EnvPoller: "select"}, want: "select", wantNews: "0 0 1"},
		{name: "ForceSpaces", env: map[string]string{EnvPoller: " poll "}, want: "poll", wantNews: "0 1 0"},
		{name: "ForceFails", env: map[string]string{EnvPoller: "poll"}, pollErr: errPoll,
			wantIs: []error{ErrNoBackend, errPoll}, wantText: "poll: poll broken", wantNews: "0 1 0"},
		{name: "ForceUnknown", env: map[string]string{EnvPoller: "kqueue"},
			wantIs: []error{ErrUnknown, ErrBadEnv}, wantText: `EVPOLL_POLLER="kqueue"`, wantNews: "0 0 0"},
		{name: "Disable", env: map[string]string{EnvDisable: "epoll"}, want: "poll", wantNews: "0 1 0"},
		{name: "DisableTwo", env: map[string]string{EnvDisable: "epoll,poll"}, want: "select", wantNews: "0 0 1"},
		{name: "DisableSpaces", env: map[string]string{EnvDisable: " poll , epoll ,"}, want: "select", wantNews: "0 0 1"},
		{name: "DisableAll", env: map[string]string{EnvDisable: "epoll,poll,select"},
			wantIs: []error{ErrNoBackend}, wantNews: "0 0 0"},
		{name: "DisableUnknown", env: map[string]string{EnvDisable: "epoll,kqueue"},
			wantIs: []error{ErrUnknown, ErrBadEnv}, wantText: "EVPOLL_DISABLE", wantNews: "0 0 0"},
		{name: "ForceDisabled", env: map[string]string{EnvPoller: "poll", EnvDisable: "epoll,poll"},
			wantIs: []error{ErrDisabled, ErrBadEnv}, wantText: "EVPOLL_POLLER", wantNews: "0 0 0"},
		{name: "ForceAndDisableOther", env: map[string]string{EnvPoller: "poll", EnvDisable: "epoll"},
			want: "poll", wantNews: "0 1 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			epoll, poll, sel := linuxFakes()
			poll.newErr = tt.pollErr
			r := newRegistry(t, poll, epoll, sel)
			b, p, err := r.Open(nil, env(tt.env))
			if news := fmt.Sprintf("%d %d %d", epoll.news.Load(), poll.news.Load(), sel.news.Load()); news != tt.wantNews {
				t.Errorf("New calls (epoll poll select) = %s, want %s", news, tt.wantNews)
			}
			if tt.want != "" {
				if err != nil || b.Name != tt.want || p == nil {
					t.Errorf("Open = %q, %v, %v; want %s", b.Name, p, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Open = %q, want an error", b.Name)
			}
			if p != nil {
				t.Errorf("Open returned a poller with error %v", err)
			}
			for _, target := range tt.wantIs {
				if !errors.Is(err, target) {
					t.Errorf("error %q: errors.Is(%v) false", err, target)
				}
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not mention %q", err, tt.wantText)
			}
		})
	}
}

// A backend forced by EVPOLL_POLLER but disabled by the program is not
// opened either.
func TestOpenForceRegistryDisabled(t *testing.T) {
	epoll, poll, sel := linuxFakes()
	r := newRegistry(t, poll, epoll, sel)
	if err := r.Disable("poll"); err != nil {
		t.Fatal(err)
	}
	_, _, err := r.Open(nil, env(map[string]string{EnvPoller: "poll"}))
	if !errors.Is(err, ErrDisabled) || !strings.Contains(err.Error(), EnvPoller) {
		t.Errorf("Open error %v, want ErrDisabled mentioning %s", err, EnvPoller)
	}
	if n := epoll.news.Load() + poll.news.Load() + sel.news.Load(); n != 0 {
		t.Errorf("%d backends constructed", n)
	}
}

// A nil envFunc reads the process environment.
func TestOpenProcessEnv(t *testing.T) {
	t.Setenv(EnvPoller, "select")
	t.Setenv(EnvDisable, "epoll")
	epoll, poll, sel := linuxFakes()
	r := newRegistry(t, poll, epoll, sel)
	b, _, err := r.Open(nil, nil)
	if err != nil || b.Name != "select" {
		t.Errorf("Open with process environment = %q, %v; want select", b.Name, err)
	}
}

// Open passes its context to the constructor.
func TestOpenPassesContext(t *testing.T) {
	ctx := newTestContext(t, 2)
	var got *Context
	r := &registry{}
	r.Register(Backend{Name: "x", Preference: 1, New: func(c *Context) (Poller, error) {
		got = c
		return &fakePoller{}, nil
	}})
	if _, _, err := r.Open(ctx, noEnv); err != nil {
		t.Fatal(err)
	}
	if got != ctx {
		t.Errorf("New got context %p, want %p", got, ctx)
	}
}

// Registration and selection from several goroutines at once must be free
// of data races.
func TestRegistryConcurrent(t *testing.T) {
	r := &registry{}
	done := make(chan struct{})
	for i := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			f := &fake{name: fmt.Sprintf("b%d", i), pref: 100 + i}
			r.Register(f.backend())
			for range 50 {
				r.Names()
				r.Backends()
				_, _ = r.Lookup("b0")
				_, _, _ = r.Open(nil, noEnv)
				_ = r.Disable(f.name)
				_ = r.Enable(f.name)
			}
		}()
	}
	for range 4 {
		<-done
	}
	if got := r.Names(); len(got) != 4 {
		t.Errorf("Names() = %q, want 4 backends", got)
	}
}

func TestCandidatesFollowEnvironment(t *testing.T) {
	r := &registry{}
	for _, b := range []struct {
		name string
		pref int
	}{{"epoll", 300}, {"poll", 200}, {"select", 150}} {
		r.Register(Backend{Name: b.name, Preference: b.pref, New: func(*Context) (Poller, error) { return nil, nil }})
	}
	names := func(env map[string]string) []string {
		t.Helper()
		cs, err := r.Candidates(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if err != nil {
			t.Fatalf("Candidates(%v): %v", env, err)
		}
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out
	}
	for _, tc := range []struct {
		env  map[string]string
		want []string
	}{
		{nil, []string{"epoll", "poll", "select"}},
		{map[string]string{EnvDisable: "epoll"}, []string{"poll", "select"}},
		{map[string]string{EnvPoller: "select"}, []string{"select"}},
	} {
		if d := cmp.Diff(tc.want, names(tc.env)); d != "" {
			t.Errorf("Candidates with %v (-want +got):\n%s", tc.env, d)
		}
	}
	if _, err := r.Candidates(func(k string) (string, bool) {
		if k == EnvPoller {
			return "nosuch", true
		}
		return "", false
	}); !errors.Is(err, ErrUnknown) {
		t.Errorf("Candidates with an unknown forced name = %v, want ErrUnknown", err)
	}
}

package poller

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/evpoll/evpoll/fdtable"
)

// Environment variables read by [Open], [Candidates] and [WriteList].
const (
	EnvPoller  = "EVPOLL_POLLER"  // force one backend by name
	EnvDisable = "EVPOLL_DISABLE" // comma-separated backends to disable
)

// Errors returned by the registry, wrapped with the name concerned.
var (
	ErrUnknown     = errors.New("unknown backend")
	ErrNoBackend   = errors.New("no polling mechanism available")
	ErrDisabled    = errors.New("backend disabled")
	ErrBadEnv      = errors.New("bad environment setting")
	errForgotten   = "(forgotten import?)"
	errNoBackendOK = "(no enabled backend registered; forgotten import?)"
	errNilPoller   = errors.New("constructor returned a nil Poller")
)

// registry holds registered backends. The package-level functions use
// defaultRegistry; tests build their own.
type registry struct {
	mu       sync.Mutex
	backends []*regEntry
}

type regEntry struct {
	b        Backend
	disabled bool
}

// defaultRegistry is the registry that backend packages register into.
var defaultRegistry = &registry{}

// Register adds b to the default registry. It is meant to be called from
// a backend package's init function and panics if b has no name or no
// constructor, or if a backend of that name is already registered.
func Register(b Backend) { defaultRegistry.Register(b) }

// Register adds b to r; see the package-level [Register].
func (r *registry) Register(b Backend) {
	if b.Name == "" {
		panic("poller: Register backend with empty name")
	}
	if b.New == nil {
		panic("poller: Register backend " + b.Name + " with nil New")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.backends {
		if e.b.Name == b.Name {
			panic("poller: Register called twice for backend " + b.Name)
		}
	}
	r.backends = append(r.backends, &regEntry{b: b})
}

// Names returns the sorted names of r's backends.
func (r *registry) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, len(r.backends))
	for i, e := range r.backends {
		names[i] = e.b.Name
	}
	sort.Strings(names)
	return names
}

// Backends returns the registered backends in selection order: highest
// preference first, registration order within a preference. Disabled
// backends are included with Preference 0.
func Backends() []Backend { return defaultRegistry.Backends() }

// Backends returns r's backends in selection order; see [Backends].
func (r *registry) Backends() []Backend {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ordered(nil)
}

// ordered returns the backends by decreasing effective preference; off
// names extra backends to treat as disabled. r.mu must be held.
func (r *registry) ordered(off map[string]bool) []Backend {
	out := make([]Backend, len(r.backends))
	for i, e := range r.backends {
		out[i] = e.b
		if e.disabled || off[e.b.Name] || out[i].Preference < 0 {
			out[i].Preference = 0
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Preference > out[j].Preference })
	return out
}

// Lookup returns the backend called name.
func Lookup(name string) (Backend, error) { return defaultRegistry.Lookup(name) }

// Lookup returns r's backend called name, with its effective preference.
func (r *registry) Lookup(name string) (Backend, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.backends {
		if e.b.Name == name {
			b := e.b
			if e.disabled {
				b.Preference = 0
			}
			return b, nil
		}
	}
	return Backend{}, r.unknown(name)
}

func (r *registry) unknown(name string) error {
	return fmt.Errorf("poller: %w", r.unknownName(name))
}

func (r *registry) unknownName(name string) error {
	return fmt.Errorf("%w %q %s", ErrUnknown, name, errForgotten)
}

// envError reports a bad value val of the environment variable key; it
// wraps both ErrBadEnv and err.
func envError(key, val string, err error) error {
	return fmt.Errorf("poller: %w %s=%q: %w", ErrBadEnv, key, val, err)
}

// Disable disables the backend called name in the default registry.
func Disable(name string) error { return defaultRegistry.Disable(name) }

// Disable sets the preference of the backend called name to 0, so Open
// never selects it (HAProxy's disable_poller). Unknown names are an error.
func (r *registry) Disable(name string) error { return r.setDisabled(name, true) }

// Enable undoes Disable. HAProxy has no equivalent; it exists so that a
// program (or test) can restore the registry.
func (r *registry) Enable(name string) error { return r.setDisabled(name, false) }

func (r *registry) setDisabled(name string, off bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.backends {
		if e.b.Name == name {
			e.disabled = off
			return nil
		}
	}
	return r.unknown(name)
}

// envFunc is the environment as seen by the registry: a lookup function such
// as [os.LookupEnv].
type envFunc func(key string) (string, bool)

// plan reads the environment and returns the candidates in the order they
// must be tried (forced backend alone, or every enabled backend by
// preference). r.mu must be held.
func (r *registry) plan(env envFunc) (cands []Backend, forced string, off map[string]bool, err error) {
	if env == nil {
		env = os.LookupEnv
	}
	off = map[string]bool{}
	if v, ok := env(EnvDisable); ok {
		for _, n := range strings.Split(v, ",") {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			if !r.has(n) {
				return nil, "", nil, envError(EnvDisable, v, r.unknownName(n))
			}
			off[n] = true
		}
	}
	if v, ok := env(EnvPoller); ok && strings.TrimSpace(v) != "" {
		forced = strings.TrimSpace(v)
		if !r.has(forced) {
			return nil, "", nil, envError(EnvPoller, v, r.unknownName(forced))
		}
		if off[forced] {
			return nil, "", nil, envError(EnvPoller, v, fmt.Errorf("%w by %s", ErrDisabled, EnvDisable))
		}
		for _, b := range r.ordered(nil) {
			if b.Name != forced {
				off[b.Name] = true
			}
		}
	}
	for _, b := range r.ordered(off) {
		if b.Preference > 0 {
			cands = append(cands, b)
		}
	}
	if forced != "" && len(cands) == 0 {
		return nil, "", nil, fmt.Errorf("poller: %s=%q: %w", EnvPoller, forced, ErrDisabled)
	}
	return cands, forced, off, nil
}

func (r *registry) has(name string) bool {
	for _, e := range r.backends {
		if e.b.Name == name {
			return true
		}
	}
	return false
}

// Candidates returns the backends Open would try, in order: every enabled
// backend by preference, minus those EVPOLL_DISABLE names, or only the one
// EVPOLL_POLLER forces. Test suites and benchmarks that loop over backends
// use it so that the environment narrows them the way it narrows Open.
func Candidates() ([]Backend, error) { return defaultRegistry.Candidates(nil) }

// Candidates is the package-level Candidates for env.
func (r *registry) Candidates(env envFunc) ([]Backend, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cands, _, _, err := r.plan(env)
	return cands, err
}

// Open initialises a poller for ctx (HAProxy's init_pollers): it tries the
// enabled backends from the highest preference down (registration order on
// ties) and returns the first whose constructor succeeds. A failing
// constructor makes it try the next one; the registry itself is not
// changed. EVPOLL_POLLER restricts the choice to one backend (its failure is
// returned, never replaced by another) and EVPOLL_DISABLE removes backends.
// A program with several polling threads calls Open once, on its first
// thread, and the returned Backend's New for the others, so that every
// thread uses the same mechanism.
func Open(ctx *Context) (Backend, Poller, error) { return defaultRegistry.Open(ctx, nil) }

// Open is the package-level Open for env (nil: the process environment).
func (r *registry) Open(ctx *Context, env envFunc) (Backend, Poller, error) {
	r.mu.Lock()
	cands, forced, _, err := r.plan(env)
	r.mu.Unlock()
	if err != nil {
		return Backend{}, nil, err
	}
	var errs []error
	for _, b := range cands {
		p, err := b.New(ctx)
		if err == nil && p == nil {
			err = errNilPoller
		}
		if err == nil {
			return b, p, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", b.Name, err))
		if forced != "" {
			break
		}
	}
	if len(errs) == 0 {
		return Backend{}, nil, fmt.Errorf("poller: %w %s", ErrNoBackend, errNoBackendOK)
	}
	return Backend{}, nil, fmt.Errorf("poller: %w: %w", ErrNoBackend, errors.Join(errs...))
}

// WriteList writes the backends in the format of HAProxy's "haproxy -vv"
// running each backend's Test against tab:
//
//	Available polling systems :
//	      epoll : pref=300,  test result OK
//	       poll : pref=200,  test result OK
//	     select : pref=150,  test result OK
//	Total: 3 (3 usable), will use epoll.
//
// Unlike HAProxy, whose "will use" names the first registered backend
// whatever its state, it names the first enabled backend
// whose test passes, or "none". Backends disabled through the environment
// are listed as disabled.
func WriteList(w io.Writer, tab *fdtable.Table) error { return defaultRegistry.WriteList(w, tab, nil) }

// WriteList is the package-level WriteList for env.
func (r *registry) WriteList(w io.Writer, tab *fdtable.Table, env envFunc) error {
	r.mu.Lock()
	_, _, off, err := r.plan(env)
	var list []Backend
	if err == nil {
		list = r.ordered(off)
	}
	r.mu.Unlock()
	if err != nil {
		return err
	}
	var sb strings.Builder
	sb.WriteString("Available polling systems :\n")
	usable := 0
	use := "none"
	for _, b := range list {
		ok := b.Test == nil || b.Test(tab) == nil
		fmt.Fprintf(&sb, " %10s : ", b.Name)
		if b.Preference > 0 {
			fmt.Fprintf(&sb, "pref=%3d, ", b.Preference)
		} else {
			sb.WriteString("disabled, ")
		}
		if ok {
			sb.WriteString(" test result OK\n")
		} else {
			sb.WriteString(" test result FAILED\n")
		}
		if b.Preference > 0 && ok {
			usable++
			if use == "none" {
				use = b.Name
			}
		}
	}
	fmt.Fprintf(&sb, "Total: %d (%d usable), will use %s.\n", len(list), usable, use)
	_, err = io.WriteString(w, sb.String())
	return err
}

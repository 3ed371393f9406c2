package conformance

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	"github.com/evpoll/evpoll/pollers/epoll"
	"golang.org/x/sys/unix"
)

// recT records what a check reports instead of failing the real test.
type recT struct {
	mu       sync.Mutex
	failed   bool
	skipped  bool
	msgs     []string
	cleanups []func()
}

func (r *recT) Helper() {}
func (r *recT) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}
func (r *recT) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}
func (r *recT) Skipf(format string, args ...any) {
	r.mu.Lock()
	r.skipped = true
	r.msgs = append(r.msgs, "SKIP: "+fmt.Sprintf(format, args...))
	r.mu.Unlock()
	runtime.Goexit()
}
func (r *recT) Logf(format string, args ...any) {}
func (r *recT) Cleanup(f func())                { r.cleanups = append(r.cleanups, f) }
func (r *recT) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

// runCheck runs the named check against b with a recorder.
func runCheck(t *testing.T, name string, b poller.Backend) *recT {
	t.Helper()
	var c *check
	for i := range checks {
		if checks[i].name == name {
			c = &checks[i]
		}
	}
	if c == nil {
		t.Fatalf("no check named %q", name)
	}
	r := &recT{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			for i := len(r.cleanups) - 1; i >= 0; i-- {
				r.cleanups[i]()
			}
		}()
		c.fn(newHarness(r, b))
	}()
	<-done
	return r
}

// fault is a deliberate bug injected around the real epoll backend.
type fault int

const (
	ignoresMigration   fault = iota // keeps polling fds that moved to another thread
	neverRDHUP                      // reports peer shutdown without FlagRDHUP
	spuriousEvents                  // reports readiness the kernel did not report
	callsInactive                   // runs callbacks of fds active in no direction
	returnsEarly                    // ignores the timeout
	leaksFD                         // opens an fd that Term never closes
	keepsClonedFDs                  // no close hook: cloned fds stay registered
	dropsRequeued                   // a new instance ignores fds wanted before it existed
	registersUnlocked               // applies registrations after the fd lock is released
	failsPollOnFDError              // returns one fd's registration error from Poll
	noopFork                        // Fork re-creates nothing
	delsOnEveryClose                // deregisters explicitly even when close is enough
	clobbersOnTerm                  // Term clears the thread's hook and masks unconditionally
	busyUndeclared                  // spins on busy polling without FlagBusyPoll
)

type broken struct {
	*epoll.Poller
	f    fault
	ctx  *poller.Context
	leak int
	fds  []int
	err  error
	// detach undoes the wrapper's Thread.Attach.
	detach func() bool
}

func brokenBackend(f fault) poller.Backend {
	b := epoll.Backend
	b.Name = fmt.Sprintf("broken-epoll-%d", f)
	b.New = func(ctx *poller.Context) (poller.Poller, error) {
		p, err := epoll.New(ctx)
		if err != nil {
			return nil, err
		}
		w := &broken{Poller: p, f: f, ctx: ctx, leak: -1}
		if f == leaksFD {
			w.leak, _ = unix.Dup(p.FD())
		}
		// The table must call the wrapper's close hook, not the inner one.
		w.detach, _ = ctx.Thread.Attach(w)
		if f == dropsRequeued {
			ctx.Thread.DrainUpdates(nopUpdater{}, true)
		}
		return w, nil
	}
	return b
}

type nopUpdater struct{}

func (nopUpdater) UpdateFD(fdtable.Update)   {}
func (nopUpdater) Closing(int, uint32, bool) {}

// collector gathers the updates a drain hands out.
type collector struct{ ups []fdtable.Update }

func (c *collector) UpdateFD(u fdtable.Update) { c.ups = append(c.ups, u) }
func (*collector) Closing(int, uint32, bool)   {}

func (w *broken) Closing(fd int, gen uint32, deregister bool) {
	switch w.f {
	case keepsClonedFDs:
		// Only what Remove asks for explicitly: cloned fds stay.
		deregister = deregister && w.ctx.Table.Info(fd).Open && !w.ctx.Table.Info(fd).Cloned
		if !deregister {
			return
		}
	case delsOnEveryClose:
		deregister = true
	}
	w.Poller.Closing(fd, gen, deregister)
}

func (w *broken) Flags() poller.Flags {
	switch w.f {
	case neverRDHUP:
		return w.Poller.Flags() &^ poller.FlagRDHUP
	case busyUndeclared:
		return w.Poller.Flags() &^ poller.FlagBusyPoll
	}
	return w.Poller.Flags()
}

func (w *broken) Fork() error {
	if w.f == noopFork {
		return nil
	}
	return w.Poller.Fork()
}

func (w *broken) Close() error {
	err := w.Poller.Close()
	if w.f == clobbersOnTerm {
		// Take the thread's hook and polled bits, whoever owns them.
		var c collector
		if detach, err := w.ctx.Thread.Attach(nopUpdater{}); err == nil {
			detach()
		}
		w.ctx.Thread.DrainUpdates(&c, true)
	}
	w.detach()
	return err
}

func (w *broken) Poll(exp poller.Tick, wake bool) error {
	tab, th := w.ctx.Table, w.ctx.Thread
	switch w.f {
	case failsPollOnFDError:
		prev := w.ctx.OnFDError
		w.ctx.OnFDError = func(fd int, err error) {
			w.err = err
			if prev != nil {
				prev(fd, err)
			}
		}
		err := w.Poller.Poll(exp, wake)
		w.ctx.OnFDError = prev
		if w.err != nil {
			err, w.err = w.err, nil
		}
		return err
	case registersUnlocked:
		var c collector
		th.DrainUpdates(&c, true)
		for _, u := range c.ups {
			runtime.Gosched() // let a Remove in
			w.Poller.UpdateFD(u)
		}
		return w.Poller.Poll(exp, wake)
	case returnsEarly:
		return w.Poller.Poll(exp, true)
	case ignoresMigration:
		w.fds = polledBy(tab, th.Bit())
		type dirs struct{ r, s bool }
		was := map[int]dirs{}
		for _, fd := range w.fds {
			in := tab.Info(fd)
			was[fd] = dirs{in.PolledRecv&th.Bit() != 0, in.PolledSend&th.Bit() != 0}
		}
		err := w.Poller.Poll(exp, wake)
		for fd, d := range was {
			if tab.Info(fd).Threads&th.Bit() == 0 && tab.Info(fd).Open {
				tab.SetPolled(fd, th.ID(), d.r, d.s)
			}
		}
		return err
	}
	err := w.Poller.Poll(exp, wake)
	defer th.EndDispatch()
	w.fds = polledBy(tab, th.Bit())
	for _, fd := range w.fds {
		switch {
		case w.f == spuriousEvents && tab.State(fd)&fdtable.ActiveRW != 0:
			th.Dispatch(fd, tab.Info(fd).Gen, fdtable.ReadyR)
		case w.f == callsInactive && tab.Info(fd).Open && tab.State(fd)&fdtable.ActiveRW == 0:
			th.WantRecv(fd)
			th.Dispatch(fd, tab.Info(fd).Gen, fdtable.ReadyR)
			th.StopRecv(fd)
		}
	}
	return err
}

// TestSuiteCatchesBrokenBackends shows that each deliberate bug makes the
// check meant to catch it fail, while the real backend passes it.
func TestSuiteCatchesBrokenBackends(t *testing.T) {
	for _, tc := range []struct {
		f     fault
		name  string
		check string
	}{
		{ignoresMigration, "IgnoresMigration", "MigratedFD"},
		{neverRDHUP, "NeverRDHUP", "DynamicRDHUP"},
		{neverRDHUP, "NeverRDHUP", "PeerShutdown"},
		{spuriousEvents, "SpuriousEvents", "Readable"},
		{callsInactive, "CallsInactive", "NoCallbackWhenInactive"},
		{callsInactive, "CallsInactive", "LazyStop"},
		{returnsEarly, "ReturnsEarly", "TimeoutNotEarly"},
		{returnsEarly, "ReturnsEarly", "EternityWaitsForEvent"},
		{leaksFD, "LeaksFD", "TermNoLeak"},
		{keepsClonedFDs, "KeepsClonedFDs", "ClonedFDDeregisteredOnDelete"},
		{dropsRequeued, "DropsRequeued", "LateInstance"},
		{registersUnlocked, "RegistersUnlocked", "RemoveWhilePolling"},
		{failsPollOnFDError, "FailsPollOnFDError", "PerFDErrorIsEvent"},
		{noopFork, "NoopFork", "ForkRecreates"},
		{delsOnEveryClose, "DelsOnEveryClose", "CloseCostsNoKernelUpdate"},
		{clobbersOnTerm, "ClobbersOnTerm", "TermOfReplacedInstance"},
		{busyUndeclared, "BusyUndeclared", "BusyPolling"},
	} {
		t.Run(tc.name+"/"+tc.check, func(t *testing.T) {
			if r := runCheck(t, tc.check, epoll.Backend); r.failed || r.skipped {
				t.Fatalf("real epoll backend does not pass %s: %s", tc.check, strings.Join(r.msgs, "; "))
			}
			r := runCheck(t, tc.check, brokenBackend(tc.f))
			if r.skipped {
				t.Fatalf("%s skipped on the broken backend: %s", tc.check, strings.Join(r.msgs, "; "))
			}
			if !r.failed {
				t.Fatalf("%s passed on a backend that %s; the check cannot catch that bug", tc.check, tc.name)
			}
		})
	}
}

// minimal hides every optional interface of the wrapped poller, as a
// third-party backend without introspection or counters would look.
type minimal struct {
	poller.Poller
	ctx    *poller.Context
	detach func() bool
}

// UpdateFD forwards to the wrapped backend: the table calls the attached
// instance.
func (m *minimal) UpdateFD(u fdtable.Update) { m.Poller.(fdtable.Updater).UpdateFD(u) }

func (m *minimal) Close() error {
	err := m.Poller.Close()
	m.detach()
	return err
}

// TestMinimalBackendPassesOrSkipsByName: a backend offering only the
// Poller interface passes every check that does not need an optional
// capability, and each skip names the capability it lacks.
func TestMinimalBackendPassesOrSkipsByName(t *testing.T) {
	b := epoll.Backend
	b.Name = "minimal-epoll"
	b.New = func(ctx *poller.Context) (poller.Poller, error) {
		p, err := epoll.New(ctx)
		if err != nil {
			return nil, err
		}
		m := &minimal{Poller: p, ctx: ctx}
		m.detach, _ = ctx.Thread.Attach(m)
		return m, nil
	}
	skipped := 0
	for _, c := range checks {
		r := runCheck(t, c.name, b)
		switch {
		case r.failed:
			t.Errorf("%s failed on a backend without optional interfaces: %s", c.name, strings.Join(r.msgs, "; "))
		case r.skipped:
			skipped++
			msg := strings.Join(r.msgs, "; ")
			if !strings.Contains(msg, "conformance.UpdateCounter") && !strings.Contains(msg, "conformance.WaitCounter") &&
				!strings.Contains(msg, "conformance.KernelObject") {
				t.Errorf("%s skipped without naming a missing capability: %s", c.name, msg)
			}
		}
	}
	if skipped == 0 {
		t.Errorf("no check skipped, but the backend hides UpdateCounter and WaitCounter")
	}
}

// hanging is a poller whose Poll never returns until release is closed.
type hanging struct {
	*epoll.Poller
	release chan struct{}
}

func (h *hanging) Poll(poller.Tick, bool) error {
	<-h.release
	return errors.New("released")
}

// TestWatchdogReportsHungCheck: a backend whose Poll blocks forever makes
// the check fail with its name after the watchdog's delay, instead of
// hanging the test binary.
func TestWatchdogReportsHungCheck(t *testing.T) {
	old := hangTimeout
	hangTimeout = 500 * time.Millisecond
	defer func() { hangTimeout = old }()
	release := make(chan struct{})
	defer close(release)
	b := epoll.Backend
	b.Name = "hanging-epoll"
	b.New = func(ctx *poller.Context) (poller.Poller, error) {
		p, err := epoll.New(ctx)
		if err != nil {
			return nil, err
		}
		return &hanging{p, release}, nil
	}
	var c check
	for _, cc := range checks {
		if cc.name == "WakeDoesNotBlock" {
			c = cc
		}
	}
	r := &recT{}
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runGuarded(r, c, b)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("runGuarded did not return for a hung check")
	}
	if el := time.Since(start); el < hangTimeout {
		t.Errorf("hung check reported after %s, before the watchdog's %s", el, hangTimeout)
	}
	msg := strings.Join(r.msgs, "; ")
	if !r.failed || !strings.Contains(msg, "WakeDoesNotBlock hung") {
		t.Errorf("hung check: failed=%v, messages %q; want a failure naming the check", r.failed, msg)
	}
}

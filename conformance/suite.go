package conformance

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/evpoll/evpoll/poller"
)

type check struct {
	name string
	fn   func(h *harness)
}

// checks is the suite, in the order Run runs it.
var checks = []check{
	{"RegisterOnWant", testRegisterOnWant},
	{"NoKernelUpdateWhenUnchanged", testNoUpdateWhenUnchanged},
	{"DeduplicatedUpdates", testDeduplicatedUpdates},
	{"LazyStop", testLazyStop},
	{"DroppedDeletedFD", testDroppedDeletedFD},
	{"DeadFDEvent", testDeadFDEvent},
	{"Readable", testReadable},
	{"Writable", testWritable},
	{"PeerShutdown", testPeerShutdown},
	{"DataBeforePeerShutdown", testDataBeforeShutdown},
	{"Hangup", testHangup},
	{"Error", testError},
	{"NoCallbackWhenInactive", testNoCallbackWhenInactive},
	{"PanickingIOCB", testPanickingIOCB},
	{"DynamicRDHUP", testDynamicRDHUP},
	{"MigratedFD", testMigratedFD},
	{"TimeoutNotEarly", testTimeoutNotEarly},
	{"WakeDoesNotBlock", testWakeDoesNotBlock},
	{"ExpiredTimer", testExpiredTimer},
	{"EternityWaitsForEvent", testEternityWaitsForEvent},
	{"ShortTimeoutNotBusy", testShortTimeoutNotBusy},
	{"SleepingBitCleared", testSleepingBitCleared},
	{"OneKernelWaitPerCycle", testOneWaitPerCycle},
	{"BusyPolling", testBusyPolling},
	{"PollIOPerCycle", testPollIOPerCycle},
	{"MaxEventsPerPoll", testMaxEventsPerPoll},
	{"ManyFDs", testManyFDs},
	{"FDReuseNoStaleEvent", testFDReuse},
	{"RemoveDeregisters", testRemoveDeregisters},
	{"ClonedFDDeregisteredOnDelete", testClonedDelete},
	{"DupedFDDeleteNoBusyLoop", testDupedDelete},
	{"ForkKeepsDelivering", testFork},
	{"TermNoLeak", testTermNoLeak},
	{"ConcurrentUpdates", testConcurrentUpdates},
	{"LateInstance", testLateInstance},
	{"RemoveWhilePolling", testRemoveWhilePolling},
	{"ReinsertWhileDispatching", testReinsertWhileDispatching},
	{"PerFDErrorIsEvent", testPerFDErrorIsEvent},
	{"ForkRecreates", testForkRecreates},
	{"ReadyRemarked", testReadyRemarked},
	{"CloseCostsNoKernelUpdate", testCloseCostsNoKernelUpdate},
	{"TermOfReplacedInstance", testTermOfReplacedInstance},
	{"ClosedBehindTable", testClosedBehindTable},
}

// Run runs the conformance suite against backend b, one subtest per
// check. Each check runs on its own goroutine under a watchdog: a check
// that is still running after a minute (a Poll that ignores its timeout
// and blocks forever, say) fails with its name and is abandoned, so that
// the rest of the suite still runs and the test binary does not hang.
func Run(t *testing.T, b poller.Backend) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if skip := runGuarded(t, c, b); skip != "" {
				t.Skip(skip)
			}
		})
	}
}

// hangTimeout is how long runGuarded waits for a check. The harness's own
// watchdog (watchdogTimeout) ends a check that keeps polling long before;
// this one catches a check stuck inside a single call.
var hangTimeout = time.Minute

// runGuarded runs check c against b on another goroutine and waits for it
// at most hangTimeout. It returns the skip message if the check skipped.
func runGuarded(t tb, c check, b poller.Backend) (skip string) {
	g := &guard{t: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.fn(newHarness(g, b))
	}()
	select {
	case <-done:
		return g.skipMsg()
	case <-time.After(hangTimeout):
		g.abandon()
		t.Fatalf("check %s hung for %s (a Poll that never returns?); abandoned", c.name, hangTimeout)
		return ""
	}
}

// guard is the tb a check sees when it runs off the test goroutine: it
// forwards to the real one (whose FailNow and SkipNow must not be called
// from another goroutine, so Fatalf and Skipf end the check's goroutine
// instead), and drops everything once the check was abandoned.
type guard struct {
	t         tb
	mu        sync.Mutex
	abandoned bool
	skip      string
}

func (g *guard) live() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.abandoned
}

func (g *guard) abandon() {
	g.mu.Lock()
	g.abandoned = true
	g.mu.Unlock()
}

func (g *guard) skipMsg() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.skip
}

func (g *guard) Helper() {}

func (g *guard) Errorf(format string, args ...any) {
	if g.live() {
		g.t.Errorf(format, args...)
	}
}

func (g *guard) Fatalf(format string, args ...any) {
	g.Errorf(format, args...)
	runtime.Goexit()
}

func (g *guard) Skipf(format string, args ...any) {
	g.mu.Lock()
	g.skip = fmt.Sprintf(format, args...)
	g.mu.Unlock()
	runtime.Goexit()
}

func (g *guard) Logf(format string, args ...any) {
	if g.live() {
		g.t.Logf(format, args...)
	}
}

func (g *guard) Cleanup(f func()) { g.t.Cleanup(f) }

func (g *guard) Failed() bool { return g.t.Failed() }

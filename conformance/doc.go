// Package conformance is the test suite every evpoll polling backend must
// pass, ours and any third party's.
//
// Typical usage, in the backend's own test file:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, mybackend.Backend)
//	}
//
//	func BenchmarkConformance(b *testing.B) {
//		conformance.Benchmark(b, mybackend.Backend)
//	}
//
// [Run] runs a flat list of CamelCase subtests, each with a fresh fd table,
// fresh poller instances and fresh socket pairs, on its own goroutine under
// a watchdog that fails the subtest, naming it, instead of hanging. It
// drives several thread instances of the backend over one shared table, so
// fd migration is tested without OS threads, and other goroutines that
// remove and insert fds while the backend polls. The checks of the
// multi-thread contract loop their race window 1000 times; run the tests
// with -conformance.long for 20000. It uses real kernel objects only:
// socket pairs, TCP connections on loopback, the backend's own kernel
// objects.
//
// Optional capabilities are probed, and checks that need one a backend
// lacks are skipped with a message naming it:
//   - [poller.Introspector]: after every poll cycle the kernel's
//     registrations (as the backend reads them back) must equal the polled
//     masks the backend recorded in the table;
//   - [UpdateCounter]: checks that nothing changed costs no kernel update;
//   - [WaitCounter]: one kernel wait per cycle, busy polling;
//   - [KernelObject]: Fork replaces the kernel object (with
//     poller.FlagFork);
//   - poller.FlagRDHUP / poller.FlagERRHUP / poller.FlagBusyPoll (from the
//     instance's Flags): peer-shutdown, hangup and error reporting, busy
//     polling. A backend that does not declare FlagBusyPoll must not spin.
//
// # Writing a backend
//
// A backend is a package with a constructor and a registration record:
//
//   - New(ctx *poller.Context) builds one thread's instance. It calls
//     ctx.Thread.Attach(p), which makes the instance the one whose
//     Closing the table calls for this thread, and queues every fd the thread already owns and wants, so a
//     late or re-created instance serves them.
//   - Poll drains the update lists with ctx.Thread.DrainUpdates, passing an
//     [fdtable.Updater] whose UpdateFD(u) computes the registration from
//     u.State, u.Ours and the polled bits, changes the kernel's, records
//     the result with ctx.Table.SetPolled and, if the kernel refused, calls
//     ctx.FailFD instead of failing the cycle. It then waits through
//     ctx.Wait (timeouts, EINTR, busy polling, the scheduler yield and the
//     delivery of per-fd errors live there) and reports each event with
//     ctx.Thread.Dispatch, giving the generation the registration was
//     tagged with (having deferred ctx.Thread.EndDispatch, for an iocb
//     that panics: check PanickingIOCB), and counts the outcome (poll_dead_fd, poll_stale_fd,
//     poll_skip_fd, where a migrated fd's registration is also dropped).
//   - Closing(fd, gen, deregister) removes the registration if deregister
//     is set (or queues the removal for the next cycle); it runs on any
//     goroutine.
//   - Fork re-creates kernel objects; Close releases them and calls
//     the detach function Attach returned.
//   - The package registers the record from init with poller.Register and
//     passes this suite: see the example of Run, which registers a
//     third-party backend and runs the suite on it.
//
// [Benchmark] runs the shape of libevent's bench.c: N registered fds, M of
// them made active, and a chain of one-byte writes where every read event
// triggers the next write, timed per round. Sub-benchmarks are named
// backend=X/fds=N/active=M so that benchstat can compare backends.
package conformance

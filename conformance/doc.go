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
// fresh poller instances and fresh socket pairs, and a watchdog that fails
// the subtest instead of hanging. It drives one or two thread instances of
// the backend over one shared table, so fd migration is tested without OS
// threads. It uses real kernel objects only: socket pairs, TCP connections
// on loopback, the backend's own kernel objects.
//
// Optional capabilities are probed, and checks that need one a backend
// lacks are skipped with a message naming it:
//   - [poller.Introspector]: after every poll cycle the kernel's
//     registrations (as the backend reads them back) must equal the polled
//     masks the backend recorded in the table;
//   - [UpdateCounter]: checks that nothing changed costs no kernel update;
//   - poller.FlagRDHUP / poller.FlagERRHUP (from the instance's Flags):
//     peer-shutdown, hangup and error reporting.
//
// [Benchmark] runs the shape of libevent's bench.c: N registered fds, M of
// them made active, and a chain of one-byte writes where every read event
// triggers the next write, timed per round. Sub-benchmarks are named
// backend=X/fds=N/active=M so that benchstat can compare backends.
package conformance

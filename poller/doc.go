// Package poller defines evpoll's polling-backend contract and the registry
// that selects a backend at run time, after HAProxy's pollers.
//
// A [Backend] is a registration record: a name, a preference, capability
// [Flags], a cheap availability Test and a constructor that initialises one
// thread's [Poller]. Backends register themselves from init with
// [Register]; importing a backend package (or the pollers package, which
// imports all that build on the GOOS) is what makes it available:
//
//	import _ "github.com/evpoll/evpoll/pollers"
//
// [Open] picks the enabled backend with the highest preference whose
// constructor succeeds, falling back to the next one when a constructor
// fails. EVPOLL_POLLER=name forces a backend and EVPOLL_DISABLE=a,b disables
// some; unknown names in either are an error.
//
// Each polling thread owns a [Context]: its fdtable thread handle, its
// activity counters, its options (maximum events per poll, busy polling),
// the shared sleeping mask and its clock. Time is kept in HAProxy's
// wrapping 32-bit millisecond [Tick]s read from Go's monotonic clock.
package poller

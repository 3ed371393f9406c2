// Package fdtable is evpoll's file-descriptor table: per-fd wanted and ready
// state (the FD_EV_* bits of HAProxy 2.2), the legacy FD_POLL_* event byte,
// thread, running, update and polled masks, and the update lists that tell
// polling backends which registrations may have changed.
//
// A [Table] is indexed by fd number. Memory grows in chunks as fds are
// inserted, so a table sized for a million fds costs a few kilobytes until
// fds are actually used. Lookups are lock-free.
//
// Every goroutine that acts as a polling thread gets a [Thread] from
// [Table.NewThread]. The Thread carries the thread's id and bit and its
// local update list; the state operations ([Thread.WantRecv],
// [Thread.StopSend], ...) are methods on it because, as in HAProxy, a change
// to an fd owned only by the calling thread goes to that thread's local list
// while a change to a shared or foreign fd goes to the table's shared list.
// [Table.External] returns a Thread with no bit of its own, safe to use from
// any goroutine, whose changes always go to the shared list.
//
// Backends consume both lists with [Thread.DrainUpdates], report kernel
// events with [Thread.Dispatch] (which drops events for closed fds, for a
// previous user of the fd number, and for fds that moved to another thread,
// then applies [Thread.UpdateEvents]), and record what they registered in
// the polled masks ([Table.SetPolled]).
//
// Deviations from HAProxy 2.2, each deliberate:
//   - every Insert bumps a per-fd generation ([Table.Gen]); backends tag
//     kernel registrations with it so that an event for a previous user of
//     the same fd number is dropped, never delivered;
//   - [Table.Remove] deregisters the still-open fd through the close hooks
//     (HAProxy leaves it registered, quirk Q11);
//   - "SHUT_W reported while active for write is an error" tests the state,
//     as intended, not the event byte (quirk Q1);
//   - [Thread.Takeover] checks the generation, not an owner pointer;
//   - the shared update list is a mutex-protected doubly linked list with
//     HAProxy's link encoding, so its walk never restarts (quirk Q2), and a
//     drain takes off any listed entry nobody has to acknowledge any more
//     (HAProxy leaves such entries until the fd's next update);
//   - [Table.Used] counts the fds in the table: Remove decrements it like
//     Delete (HAProxy's ha_used_fds counts open descriptors and is left
//     unchanged by fd_remove, so it drifts when a removed fd is inserted
//     again);
//   - Remove does not apply SO_LINGER to the fd it leaves open, and an iocb
//     that deletes or removes its own fd gets no lazy-stop update queued
//     for it;
//   - [Thread.Close] drops the thread's pending update bits, so that the id
//     can be taken again.
package fdtable

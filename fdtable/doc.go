// Package fdtable is evpoll's file-descriptor table: per-fd wanted and ready
// state (the FD_EV_* bits of HAProxy 2.2), the conditions last reported
// (HAProxy's FD_POLL_* event byte, kept as FD_EV_* bits), thread, running,
// update and polled masks, and the update lists that tell
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
// then applies it), and record what they registered in
// the polled masks ([Table.SetPolled]).
//
// # Concurrency contract
//
// Safe from any goroutine: Insert, Delete, Remove and Takeover (through any
// Thread, including [Table.External]), the want/stop/cant/may
// operations on fds shared by several threads or owned by another one
// (through [Table.External]: their changes go to the shared list), and
// every read-only accessor of [Table]. A Thread with an id belongs to its
// polling goroutine for everything else: its local list, DrainUpdates,
// Dispatch and EndDispatch.
//
// What each guarantees once it returns:
//   - after Delete or Remove of an fd, no iocb of that generation starts;
//     every poller that watched it was told through its Closing method; no
//     poller registers that generation again (DrainUpdates hands out open
//     fds only, with the fd locked, and Delete and Remove take the same
//     lock); whatever the kernel still reports for it is dropped by
//     Dispatch as Dead or Stale. iocbs already running on other threads
//     may still be running; Delete leaves the close to the last of them.
//   - after Insert, the previous generation's events cannot reach the new
//     owner: Dispatch re-checks the generation once its thread is marked
//     running, which excludes Insert, Delete, Remove and Takeover.
//   - a poller attached to a thread with [Thread.Attach] (every backend's
//     constructor does it) is handed every fd the thread already owns and
//     wants, with no help from the caller.
//
// An fd closed behind the table's back (close(2) without Delete) stays in
// the table: until Remove or Delete tells it, events the backend reports
// for whatever file the kernel gives that number next go to the old
// owner, and Insert of the number fails with [ErrInUse]. Once the table is
// told and the number is inserted again, the new owner receives none of
// the old owner's events (conformance check ClosedBehindTable).
//
// Deviations from HAProxy 2.2, each deliberate:
//   - every Insert bumps a per-fd generation ([Info].Gen); backends tag
//     kernel registrations with it so that an event for a previous user of
//     the same fd number is dropped, never delivered;
//   - [Thread.Remove] deregisters the still-open fd through the attached instances' Closing
//     (HAProxy 2.2's fd_remove leaves it registered);
//   - "SHUT_W reported while active for write is an error" tests the state,
//     as intended, not the conditions last reported (HAProxy 2.2 tests
//     its event byte, where SHUT_W is never recorded);
//   - [Thread.Delete] does not wait for iocbs running on other threads: the
//     last of them closes the fd (later HAProxy versions do the same);
//   - an event for an fd that moved to another thread changes nothing in
//     the fd's state (HAProxy applies its READY bits first);
//   - [Thread.Takeover] checks the generation, not an owner pointer;
//   - the shared update list is a mutex-protected doubly linked list with
//     HAProxy's link encoding, so its walk never restarts (HAProxy's
//     lock-free list can make a walker restart), and a
//     drain takes off any listed entry nobody has to acknowledge any more
//     (HAProxy leaves such entries until the fd's next update);
//   - Remove does not apply SO_LINGER to the fd it leaves open, and an iocb
//     that deletes or removes its own fd gets no lazy-stop update queued
//     for it;
//   - [Thread.Close] drops the thread's pending update bits, so that the id
//     can be taken again.
package fdtable

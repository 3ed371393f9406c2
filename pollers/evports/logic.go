//go:build solaris || linux

package evports

import "github.com/evpoll/evpoll/fdtable"

// Op is what Resync asks of the port for one fd.
type Op uint8

// Port operations.
const (
	OpNone       Op = iota
	OpAssociate     // port_associate with the new mask
	OpDissociate    // port_dissociate
)

// Resync decides what this thread's port must do for an fd, given its
// state, whether it belongs to the thread and the polled directions
// (HAProxy: _update_fd in ev_evports.c), and returns the new polled
// directions. An fd that is not ours or wanted in no direction is
// dissociated if it is polled. Otherwise it is associated with the wanted
// directions. HAProxy re-associates even when nothing changed; here the
// association of a polled fd is always live (delivery re-arms it, see
// Rearm), so an unchanged mask costs no call.
func Resync(st fdtable.State, ours, pollR, pollS bool) (op Op, recv, send bool) {
	wantR, wantS := st&fdtable.ActiveR != 0, st&fdtable.ActiveW != 0
	if !ours || (!wantR && !wantS) {
		if pollR || pollS {
			return OpDissociate, false, false
		}
		return OpNone, false, false
	}
	if wantR == pollR && wantS == pollS {
		return OpNone, pollR, pollS
	}
	return OpAssociate, wantR, wantS
}

// EventMask returns the poll events associated for the given directions.
func EventMask(recv, send bool) int16 {
	var m int16
	if recv {
		m |= PollIn
	}
	if send {
		m |= PollOut
	}
	return m
}

// Translate converts the poll bits of a port event into FD_EV_* bits
// (HAProxy's _do_poll in ev_evports.c): POLLIN is READY_R, POLLOUT
// READY_W, POLLHUP SHUT_RW, POLLERR ERR_RW. POLLNVAL (the fd was closed
// behind the table's back) is reported as an error too.
func Translate(events int16) fdtable.State {
	var s fdtable.State
	if events&PollIn != 0 {
		s |= fdtable.ReadyR
	}
	if events&PollOut != 0 {
		s |= fdtable.ReadyW
	}
	if events&PollHup != 0 {
		s |= fdtable.ShutR | fdtable.ShutW
	}
	if events&(PollErr|PollNval) != 0 {
		s |= fdtable.ErrRW
	}
	return s
}

// After is what became of an fd by the time its callback returned.
type After struct {
	Closed   bool          // deleted from the table, or its number reused
	Migrated bool          // no longer ours
	State    fdtable.State // its state after the callback
}

// Rearm decides whether an fd whose event was just retrieved (which
// consumed its one-shot association) is associated again, and with which
// directions: those wanted before the callback (pre), as HAProxy does, so
// that a change the callback made is applied by the update list next
// cycle. It is not re-armed when the fd was closed (the close dissociated
// it), has migrated, or no longer wants anything after the callback
// (interest dropped): its polled bits are cleared instead.
func Rearm(pre fdtable.State, a After) (rearm, recv, send bool) {
	if a.Closed || a.Migrated || a.State&fdtable.ActiveRW == 0 {
		return false, false, false
	}
	recv, send = pre&fdtable.ActiveR != 0, pre&fdtable.ActiveW != 0
	if !recv && !send {
		return false, false, false
	}
	return true, recv, send
}

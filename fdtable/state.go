//go:build unix

package fdtable

import (
	"strconv"
)

// State holds an fd's FD_EV_* bits with the values of HAProxy 2.2. Only the
// ACTIVE and READY bits are ever stored in an fd's state; SHUT and ERR are
// used only in the events a backend passes to [Thread.Dispatch] and in the
// conditions last reported for an fd ([Info].Ev).
type State uint32

// FD_EV_* bits (HAProxy 2.2 values).
const (
	ActiveR State = 0x01 // the upper layer wants to receive
	ReadyR  State = 0x02 // receiving would not block (no EAGAIN seen since)
	ShutR   State = 0x04 // event only: the peer closed its write side
	ActiveW State = 0x10 // the upper layer wants to send
	ReadyW  State = 0x20 // sending would not block
	ShutW   State = 0x40 // event only: the write side is closed
	ErrRW   State = 0x80 // event only: error on the fd

	// ActiveRW is both ACTIVE bits: the upper layer wants the fd in some
	// direction if State&ActiveRW != 0.
	ActiveRW = ActiveR | ActiveW
)

const (
	readyRW = ReadyR | ReadyW
	shutRW  = ShutR | ShutW
)

// String formats the state as HAProxy's "show fd" does, for instance
// "0x23(R:RA W:Ra)": upper case means the bit is set. A state holding
// event bits (the conditions of [Info].Ev, or events passed to
// [Thread.Dispatch]) also shows them, for instance "0x86(R:Ra W:ra S:Rw
// E)": S for SHUT_R and SHUT_W, E for ERR_RW.
func (s State) String() string {
	b := make([]byte, 0, 28)
	b = append(b, "0x"...)
	if s < 0x10 {
		b = append(b, '0')
	}
	b = strconv.AppendUint(b, uint64(s), 16)
	b = append(b, "(R:"...)
	b = append(b, flag(s&ReadyR != 0, 'R'), flag(s&ActiveR != 0, 'A'))
	b = append(b, " W:"...)
	b = append(b, flag(s&ReadyW != 0, 'R'), flag(s&ActiveW != 0, 'A'))
	if s&shutRW != 0 {
		b = append(b, " S:"...)
		b = append(b, flag(s&ShutR != 0, 'R'), flag(s&ShutW != 0, 'W'))
	}
	if s&ErrRW != 0 {
		b = append(b, " E"...)
	}
	return string(append(b, ')'))
}

func flag(set bool, c byte) byte {
	if set {
		return c
	}
	return c + 'a' - 'A'
}

// The conditions last reported for an fd (HAProxy: fdtab[].ev, FD_POLL_*)
// are State bits too: READY_R for FD_POLL_IN, READY_W for FD_POLL_OUT,
// SHUT_R for FD_POLL_HUP and ERR_RW for FD_POLL_ERR. evSticky are those
// kept across events until the fd is inserted again; the readiness
// conditions are replaced by every event.
const evSticky = ShutR | ErrRW

// reported returns the conditions that events evts report for an fd in
// state st (fd_update_events), with that function's intent rather than
// its letter: SHUT_W reported while the fd is active for writing is an
// error.
func reported(evts, st State) State {
	r := evts & (readyRW | ShutR | ErrRW)
	if evts&ShutW != 0 && st&ActiveW != 0 {
		r |= ErrRW
	}
	return r
}

// mustStop returns the directions for which events were reported although
// nobody wants them (fd_update_events' must_stop).
func mustStop(evts, st State) State {
	switch {
	case st&ActiveRW == 0:
		return ActiveRW
	case st&ActiveR == 0 && evts&(ReadyR|ShutR|ErrRW) != 0:
		return ActiveR
	case st&ActiveW == 0 && evts&(ReadyW|ShutW|ErrRW) != 0:
		return ActiveW
	}
	return 0
}

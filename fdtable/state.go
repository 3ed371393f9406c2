//go:build unix

package fdtable

import (
	"strconv"
)

// State holds an fd's FD_EV_* bits with the values of HAProxy 2.2. Only the
// ACTIVE and READY bits are ever stored in the table; SHUT and ERR are used
// only as the events a backend passes to [Thread.Dispatch].
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

	ActiveRW = ActiveR | ActiveW
	ReadyRW  = ReadyR | ReadyW
	ShutRW   = ShutR | ShutW
)

// String formats the state as HAProxy's "show fd" does, for instance
// "0x23(R:RA W:Ra)": upper case means the bit is set.
func (s State) String() string {
	b := make([]byte, 0, 20)
	b = append(b, "0x"...)
	if s < 0x10 {
		b = append(b, '0')
	}
	b = strconv.AppendUint(b, uint64(s), 16)
	b = append(b, "(R:"...)
	b = append(b, flag(s&ReadyR != 0, 'R'), flag(s&ActiveR != 0, 'A'))
	b = append(b, " W:"...)
	b = append(b, flag(s&ReadyW != 0, 'R'), flag(s&ActiveW != 0, 'A'), ')')
	return string(b)
}

func flag(set bool, c byte) byte {
	if set {
		return c
	}
	return c + 'a' - 'A'
}

// PollEv holds the legacy FD_POLL_* conditions last reported for an fd.
type PollEv uint32

// FD_POLL_* bits.
const (
	PollIn  PollEv = 0x01 // READY_R was reported
	PollOut PollEv = 0x04 // READY_W was reported
	PollErr PollEv = 0x08 // ERR_RW was reported, or SHUT_W while active for write
	PollHup PollEv = 0x10 // SHUT_R was reported

)

// pollPri is FD_POLL_PRI, kept for the "show fd" rendering: no backend
// reports priority data.
const pollPri PollEv = 0x02

// pollSticky are the conditions kept across events until the fd is
// inserted again; the readiness conditions (IN, OUT) are replaced by
// every event.
const pollSticky = PollErr | PollHup

// String formats the conditions as HAProxy's "show fd" does, for instance
// "0x11(heopI)".
func (e PollEv) String() string {
	b := make([]byte, 0, 12)
	b = append(b, "0x"...)
	if e < 0x10 {
		b = append(b, '0')
	}
	b = strconv.AppendUint(b, uint64(e), 16)
	b = append(b, '(',
		flag(e&PollHup != 0, 'H'), flag(e&PollErr != 0, 'E'), flag(e&PollOut != 0, 'O'),
		flag(e&pollPri != 0, 'P'), flag(e&PollIn != 0, 'I'), ')')
	return string(b)
}

// legacy maps reported events to FD_POLL_* bits (fd_update_events), with
// that function's intent rather than its letter: SHUT_W reported while the
// fd is active for writing is an error.
func legacy(evts, st State) PollEv {
	var e PollEv
	if evts&ReadyR != 0 {
		e |= PollIn
	}
	if evts&ReadyW != 0 {
		e |= PollOut
	}
	if evts&ShutR != 0 {
		e |= PollHup
	}
	if evts&ErrRW != 0 {
		e |= PollErr
	}
	if evts&ShutW != 0 && st&ActiveW != 0 {
		e |= PollErr
	}
	return e
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

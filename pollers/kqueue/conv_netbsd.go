package kqueue

import "golang.org/x/sys/unix"

// toSys fills k from e (NetBSD's struct kevent has integer udata).
func toSys(k *unix.Kevent_t, e *Kevent) bool {
	f, ok := toSysFilter(e.Filter)
	if !ok {
		return false
	}
	*k = unix.Kevent_t{
		Filter: uint32(f),
		Flags:  uint32(e.Flags),
		Fflags: e.Fflags,
	}
	setInt(&k.Udata, int64(e.Udata))
	setUint(&k.Ident, e.Ident)
	setInt(&k.Data, e.Data)
	return true
}

func fromSys(e *Kevent, k *unix.Kevent_t) {
	*e = Kevent{
		Ident:  uint64(k.Ident),
		Filter: fromSysFilter(int(k.Filter)),
		Flags:  Flag(k.Flags),
		Fflags: k.Fflags,
		Data:   int64(k.Data),
		Udata:  uint64(k.Udata),
	}
}

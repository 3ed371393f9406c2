//go:build darwin || freebsd || openbsd || dragonfly

package kqueue

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// toSys fills k from e. Udata is a pointer field here; the generation is
// stored in it as a plain word (the buffers are not scanned by the
// garbage collector, see sysQueue).
func toSys(k *unix.Kevent_t, e *Kevent) bool {
	f, ok := toSysFilter(e.Filter)
	if !ok {
		return false
	}
	setUint(&k.Ident, e.Ident)
	k.Filter = int16(f)
	k.Flags = uint16(e.Flags)
	k.Fflags = e.Fflags
	setInt(&k.Data, e.Data)
	*(*uintptr)(unsafe.Pointer(&k.Udata)) = uintptr(e.Udata)
	return true
}

func fromSys(e *Kevent, k *unix.Kevent_t) {
	*e = Kevent{
		Ident:  uint64(k.Ident),
		Filter: fromSysFilter(int(k.Filter)),
		Flags:  Flag(k.Flags),
		Fflags: k.Fflags,
		Data:   int64(k.Data),
		Udata:  uint64(*(*uintptr)(unsafe.Pointer(&k.Udata))),
	}
}

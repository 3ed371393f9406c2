//go:build unix

package poll

import (
	"golang.org/x/sys/unix"
)

// fdArray is the pollfd array handed to the kernel, maintained
// incrementally: one entry per registered fd, in no particular order.
// slot[fd] is the fd's index plus one (0: not registered), and gens, in
// step with pfds, holds the fdtable generation each entry was registered
// for. Removal moves the last entry into the hole, so every operation is
// O(1) and the array is always ready to be passed to poll(2).
//
// fdArray does no system call and knows nothing of the table: it is the
// pure part of the backend.
type fdArray struct {
	pfds []unix.PollFd
	gens []uint32
	slot []int32
}

// len returns the number of registered fds.
func (a *fdArray) len() int { return len(a.pfds) }

// index returns fd's index in pfds, or -1.
func (a *fdArray) index(fd int) int {
	if uint(fd) >= uint(len(a.slot)) {
		return -1
	}
	return int(a.slot[fd]) - 1
}

// set registers fd for events (which must not be 0) with generation gen,
// adding an entry or updating the existing one. It reports whether the
// entry's events changed (an addition counts as a change).
func (a *fdArray) set(fd int, events int16, gen uint32) (changed bool) {
	if i := a.index(fd); i >= 0 {
		a.gens[i] = gen
		if a.pfds[i].Events == events {
			return false
		}
		a.pfds[i].Events = events
		return true
	}
	if fd >= len(a.slot) {
		n := max(2*len(a.slot), fd+1, 64)
		s := make([]int32, n)
		copy(s, a.slot)
		a.slot = s
	}
	a.pfds = append(a.pfds, unix.PollFd{Fd: int32(fd), Events: events})
	a.gens = append(a.gens, gen)
	a.slot[fd] = int32(len(a.pfds))
	return true
}

// remove unregisters fd and reports whether it was registered.
func (a *fdArray) remove(fd int) bool {
	i := a.index(fd)
	if i < 0 {
		return false
	}
	a.removeAt(i)
	return true
}

// removeGen unregisters fd only if it was registered for generation gen.
func (a *fdArray) removeGen(fd int, gen uint32) bool {
	i := a.index(fd)
	if i < 0 || a.gens[i] != gen {
		return false
	}
	a.removeAt(i)
	return true
}

func (a *fdArray) removeAt(i int) {
	last := len(a.pfds) - 1
	a.slot[a.pfds[i].Fd] = 0
	if i != last {
		a.pfds[i] = a.pfds[last]
		a.gens[i] = a.gens[last]
		a.slot[a.pfds[i].Fd] = int32(i + 1)
	}
	a.pfds = a.pfds[:last]
	a.gens = a.gens[:last]
}

// reset forgets every fd and releases the memory.
func (a *fdArray) reset() { *a = fdArray{} }

// The userset.Set methods, over the array.

func (a *fdArray) Put(fd int, recv, send bool, gen uint32) bool {
	return a.set(fd, eventMask(recv, send), gen)
}
func (a *fdArray) Remove(fd int) bool                { return a.remove(fd) }
func (a *fdArray) RemoveGen(fd int, gen uint32) bool { return a.removeGen(fd, gen) }
func (a *fdArray) Reset()                            { a.reset() }

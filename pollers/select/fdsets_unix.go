//go:build unix

package selectpoll

import (
	"errors"
	"math/bits"

	"golang.org/x/sys/unix"
)

const (
	// wordBits is the width of an fd_set word (NFDBITS): 32 or 64.
	wordBits = unix.NFDBITS
	// wordMask keeps the wordBits low bits of a word widened to uint64
	// (a negative int32 word would otherwise sign-extend).
	wordMask = uint64(1<<unix.NFDBITS - 1)
	// SetSize is FD_SETSIZE, the number of fds an fd_set holds: select
	// can watch fds 0..SetSize-1 only.
	SetSize = wordBits * len(unix.FdSet{}.Bits)
)

// ErrFDSetSize is returned, wrapped, for a table or an fd that select
// cannot handle because of FD_SETSIZE.
var ErrFDSetSize = errors.New("beyond FD_SETSIZE")

// word returns word w of s, widened to uint64.
func word(s *unix.FdSet, w int) uint64 { return uint64(s.Bits[w]) & wordMask }

// fdSets are the fd_sets an instance wants watched, with the generation
// each fd was registered for and the highest registered fd plus one
// (select's nfds). They are copied for every select call, which
// overwrites its arguments.
//
// fdSets does no system call and knows nothing of the table: it is the
// pure part of the backend.
type fdSets struct {
	rd, wr   unix.FdSet
	nrd, nwr int      // fds in rd, in wr
	gens     []uint32 // by fd; meaningful where rd or wr has the fd
	maxfd    int      // highest fd in rd or wr, plus one
}

// words returns the number of fd_set words that cover fds below maxfd.
func (s *fdSets) words() int { return (s.maxfd + wordBits - 1) / wordBits }

// lookup returns the directions and generation fd is registered with.
func (s *fdSets) lookup(fd int) (recv, send bool, gen uint32, ok bool) {
	if uint(fd) >= uint(s.maxfd) {
		return false, false, 0, false
	}
	recv, send = s.rd.IsSet(fd), s.wr.IsSet(fd)
	if !recv && !send {
		return false, false, 0, false
	}
	return recv, send, s.gens[fd], true
}

// set registers fd for the given directions (at least one) with
// generation gen, and reports whether the directions changed. An fd
// outside 0..SetSize-1 is refused with ErrFDSetSize and nothing changes.
func (s *fdSets) set(fd int, recv, send bool, gen uint32) (changed bool, err error) {
	if fd < 0 || fd >= SetSize {
		return false, ErrFDSetSize
	}
	if fd >= len(s.gens) {
		n := min(max(2*len(s.gens), fd+1, 64), SetSize)
		g := make([]uint32, n)
		copy(g, s.gens)
		s.gens = g
	}
	s.gens[fd] = gen
	changed = setBit(&s.rd, &s.nrd, fd, recv)
	if setBit(&s.wr, &s.nwr, fd, send) {
		changed = true
	}
	if fd >= s.maxfd {
		s.maxfd = fd + 1
	}
	return changed, nil
}

// setBit sets or clears fd in set, keeping count, and reports a change.
func setBit(set *unix.FdSet, count *int, fd int, on bool) bool {
	if set.IsSet(fd) == on {
		return false
	}
	if on {
		set.Set(fd)
		*count++
	} else {
		set.Clear(fd)
		*count--
	}
	return true
}

// remove unregisters fd and reports whether it was registered.
func (s *fdSets) remove(fd int) bool {
	if _, _, _, ok := s.lookup(fd); !ok {
		return false
	}
	setBit(&s.rd, &s.nrd, fd, false)
	setBit(&s.wr, &s.nwr, fd, false)
	if fd == s.maxfd-1 {
		s.shrink()
	}
	return true
}

// removeGen unregisters fd only if it was registered for generation gen.
func (s *fdSets) removeGen(fd int, gen uint32) bool {
	if _, _, g, ok := s.lookup(fd); !ok || g != gen {
		return false
	}
	return s.remove(fd)
}

// shrink lowers maxfd to the highest registered fd plus one.
func (s *fdSets) shrink() {
	for w := s.words() - 1; w >= 0; w-- {
		if m := word(&s.rd, w) | word(&s.wr, w); m != 0 {
			s.maxfd = w*wordBits + bits.Len64(m)
			return
		}
	}
	s.maxfd = 0
}

// reset forgets every fd and releases the memory.
func (s *fdSets) reset() { *s = fdSets{} }

// ready is one fd reported by select.
type ready struct {
	fd         int
	recv, send bool
}

// collect appends to dst[:0] the fds set in rd or wr below maxfd, in fd
// order starting at start and wrapping around, at most limit of them. It
// returns them with the fd the next collection should start from: the
// first fd left out, or start if none was.
func collect(dst []ready, rd, wr *unix.FdSet, maxfd, start, limit int) ([]ready, int) {
	dst = dst[:0]
	nw := (maxfd + wordBits - 1) / wordBits
	if nw == 0 || limit <= 0 {
		return dst, start
	}
	if start < 0 || start >= maxfd {
		start = 0
	}
	sw, sb := start/wordBits, uint(start%wordBits)
	// Word sw is visited twice: its bits from sb up first, its bits
	// below sb last.
	for k := 0; k <= nw; k++ {
		w := (sw + k) % nw
		r, x := word(rd, w), word(wr, w)
		m := r | x
		switch k {
		case 0:
			m &= wordMask << sb
		case nw:
			m &^= wordMask << sb
		}
		for m != 0 {
			b := bits.TrailingZeros64(m)
			m &= m - 1
			fd := w*wordBits + b
			if fd >= maxfd {
				break
			}
			if len(dst) == limit {
				return dst, fd
			}
			dst = append(dst, ready{fd: fd, recv: r>>b&1 != 0, send: x>>b&1 != 0})
		}
	}
	return dst, start
}

// The userset.Set methods, over the sets. Put is only called for fds below
// SetSize: the backend refuses the others first.

func (s *fdSets) Put(fd int, recv, send bool, gen uint32) bool {
	changed, _ := s.set(fd, recv, send, gen)
	return changed
}
func (s *fdSets) Remove(fd int) bool                { return s.remove(fd) }
func (s *fdSets) RemoveGen(fd int, gen uint32) bool { return s.removeGen(fd, gen) }
func (s *fdSets) Reset()                            { s.reset() }

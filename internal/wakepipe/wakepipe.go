//go:build unix

package wakepipe

import (
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Pipe is a non-blocking, close-on-exec pipe with a pending flag. The zero
// value is not usable; call Open.
type Pipe struct {
	r, w    int
	pending atomic.Bool // woken and not yet drained: later wakes are free
}

// Open creates the pipe.
func (p *Pipe) Open() error {
	var fds [2]int
	if err := unix.Pipe(fds[:]); err != nil {
		return os.NewSyscallError("pipe", err)
	}
	for _, fd := range fds {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(fds[0])
			unix.Close(fds[1])
			return os.NewSyscallError("fcntl", err)
		}
	}
	p.r, p.w = fds[0], fds[1]
	p.pending.Store(false)
	return nil
}

// R returns the read end, -1 when closed.
func (p *Pipe) R() int { return p.r }

// Wake writes a byte unless a wake is already pending. Any goroutine may
// call it.
func (p *Pipe) Wake() error {
	if p.pending.Swap(true) {
		return nil
	}
	if _, err := unix.Write(p.w, []byte{1}); err != nil && err != unix.EAGAIN {
		p.pending.Store(false)
		return os.NewSyscallError("write", err)
	}
	return nil
}

// Drain empties the pipe, then clears the pending flag. In that order: a
// Wake between the two is skipped, which is fine as the poller is
// returning anyway; cleared first, a Wake whose byte the read then
// consumed would leave the flag set for good and every later wake would
// be skipped.
func (p *Pipe) Drain() {
	var buf [64]byte
	for {
		n, err := unix.Read(p.r, buf[:])
		if n <= 0 || err != nil {
			break
		}
	}
	p.pending.Store(false)
}

// Close closes both ends; it is idempotent.
func (p *Pipe) Close() {
	if p.r >= 0 {
		unix.Close(p.r)
		unix.Close(p.w)
		p.r, p.w = -1, -1
	}
}

// Closed returns a closed Pipe (R is -1).
func Closed() Pipe { return Pipe{r: -1, w: -1} }

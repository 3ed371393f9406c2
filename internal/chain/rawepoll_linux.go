package chain

import (
	"fmt"
	"os"

	"github.com/evpoll/evpoll/poller"
	"golang.org/x/sys/unix"
)

// rawEpoll is a baseline: the workload as a careful programmer writes it
// directly over epoll(7), with no evpoll in between: every fd added once,
// level-triggered, with its number as the event's data, so a round makes
// only epoll_wait, read and write calls.
type rawEpoll struct {
	cfg    Config
	c      *chans
	ep     int
	events []unix.EpollEvent
	buf    []byte
	counts Counts
}

var _ Counter = (*rawEpoll)(nil)

func newRawEpoll(cfg Config) (Runner, error) {
	c, err := open(cfg)
	if err != nil {
		return nil, err
	}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		c.close()
		return nil, fmt.Errorf("chain: raw-epoll: %w", os.NewSyscallError("epoll_create1", err))
	}
	// As many events per wait as an evpoll thread takes by default.
	r := &rawEpoll{cfg: cfg, c: c, ep: ep, buf: make([]byte, len(c.msg)),
		events: make([]unix.EpollEvent, poller.DefaultMaxEvents)}
	for _, fd := range c.fds {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			r.Close()
			return nil, fmt.Errorf("chain: raw-epoll: fd %d: %w", fd, os.NewSyscallError("epoll_ctl", err))
		}
	}
	return r, nil
}

func (r *rawEpoll) Round() (int, error) {
	r.c.kick(r.cfg.Active)
	fired, left, want := 0, r.cfg.Writes, r.cfg.Active+r.cfg.Writes
	events, out, msg, buf := r.events, r.c.out, r.c.msg, r.buf
	var id idle
	for fired < want {
		n, err := unix.EpollWait(r.ep, events, waitMs)
		r.counts.Waits++
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			r.counts.add(r.cfg, fired, left)
			return fired, fmt.Errorf("chain: raw-epoll: %w", os.NewSyscallError("epoll_wait", err))
		}
		if id.progress(n > 0) {
			r.counts.add(r.cfg, fired, left)
			return fired, stallError("raw-epoll", fired, want)
		}
		for i := range events[:n] {
			fd := int(events[i].Fd)
			unix.Read(fd, buf)
			fired++
			if left > 0 {
				left--
				unix.Write(out[fd], msg)
			}
		}
	}
	r.counts.add(r.cfg, fired, left)
	return fired, nil
}

func (r *rawEpoll) Counts() Counts { return r.counts }

func (r *rawEpoll) Close() error {
	err := unix.Close(r.ep)
	r.c.close()
	if err != nil {
		return fmt.Errorf("chain: raw-epoll: %w", os.NewSyscallError("close", err))
	}
	return nil
}

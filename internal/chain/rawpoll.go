package chain

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// rawPoll is a baseline: the workload as a careful programmer writes it
// directly over poll(2), with no evpoll in between. The pollfd array is
// built once; a round scans it only until every ready entry was seen.
type rawPoll struct {
	cfg    Config
	c      *chans
	pfds   []unix.PollFd
	buf    []byte
	counts Counts
}

var _ Counter = (*rawPoll)(nil)

func newRawPoll(cfg Config) (Runner, error) {
	c, err := open(cfg)
	if err != nil {
		return nil, err
	}
	r := &rawPoll{cfg: cfg, c: c, buf: make([]byte, len(c.msg)), pfds: make([]unix.PollFd, len(c.fds))}
	for i, fd := range c.fds {
		r.pfds[i] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	}
	return r, nil
}

func (r *rawPoll) Round() (int, error) {
	r.c.kick(r.cfg.Active)
	fired, left, want := 0, r.cfg.Writes, r.cfg.Active+r.cfg.Writes
	pfds, out, msg, buf := r.pfds, r.c.out, r.c.msg, r.buf
	var id idle
	for fired < want {
		n, err := unix.Poll(pfds, waitMs)
		r.counts.Waits++
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			r.counts.add(r.cfg, fired, left)
			return fired, fmt.Errorf("chain: raw-poll: %w", os.NewSyscallError("poll", err))
		}
		if id.progress(n > 0) {
			r.counts.add(r.cfg, fired, left)
			return fired, stallError("raw-poll", fired, want)
		}
		for i := 0; n > 0 && i < len(pfds); i++ {
			ev := pfds[i].Revents
			if ev == 0 {
				continue
			}
			n--
			if ev&unix.POLLNVAL != 0 {
				r.counts.add(r.cfg, fired, left)
				return fired, fmt.Errorf("chain: raw-poll: fd %d: %w", pfds[i].Fd, os.NewSyscallError("poll", unix.EBADF))
			}
			fd := int(pfds[i].Fd)
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

func (r *rawPoll) Counts() Counts { return r.counts }

func (r *rawPoll) Close() error {
	r.c.close()
	return nil
}

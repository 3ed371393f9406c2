package chain

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Kind is what the registered fds are.
type Kind int

const (
	// Socketpair: N/2 AF_UNIX stream socket pairs, both ends registered;
	// an fd is made readable by writing one byte to its peer.
	Socketpair Kind = iota
	// Pipe: N pipes, read ends registered; an fd is made readable by
	// writing one byte to its pipe's write end (2N fds in all).
	Pipe
	// Eventfd: N eventfds in semaphore mode (Linux only); an fd is made
	// readable by adding 1 to its own counter, and a read takes 1 off.
	Eventfd
)

// errNoEventfd is returned for Eventfd where the system has no eventfd.
var errNoEventfd = errors.New("chain: kind eventfd needs Linux")

var kindNames = []string{"socketpair", "pipe", "eventfd"}

// String returns the kind's name, as ParseKind accepts it.
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// ParseKind returns the kind named s, or an error that lists the names.
func ParseKind(s string) (Kind, error) {
	i := slices.Index(kindNames, s)
	if i < 0 {
		return 0, fmt.Errorf("chain: unknown kind %q (want %s)", s, strings.Join(kindNames, ", "))
	}
	k := Kind(i)
	return k, k.supported()
}

// Kinds returns the kinds this system supports.
func Kinds() []Kind {
	var ks []Kind
	for k := range kindNames {
		if Kind(k).supported() == nil {
			ks = append(ks, Kind(k))
		}
	}
	return ks
}

// chans are the fds of one runner.
type chans struct {
	fds   []int  // registered fds, in chain order
	out   []int  // registered fd -> the fd to write to make the next one readable
	wfd   []int  // registered fd -> the fd to write to make it readable
	owned []int  // every fd opened
	msg   []byte // what one write writes; a read reads len(msg) bytes
	maxFD int
}

// open opens the fds of cfg, non-blocking and close-on-exec.
func open(cfg Config) (*chans, error) {
	c := &chans{msg: []byte{'x'}}
	var wfd []int // parallel to c.fds
	var err error
	switch cfg.Kind {
	case Socketpair:
		for err == nil && len(c.fds) < cfg.FDs {
			var p [2]int
			if p, err = unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0); err != nil {
				err = os.NewSyscallError("socketpair", err)
				break
			}
			c.owned = append(c.owned, p[0], p[1])
			c.fds = append(c.fds, p[0], p[1])
			wfd = append(wfd, p[1], p[0])
		}
	case Pipe:
		for err == nil && len(c.fds) < cfg.FDs {
			var p [2]int
			if err = unix.Pipe(p[:]); err != nil {
				err = os.NewSyscallError("pipe", err)
				break
			}
			c.owned = append(c.owned, p[0], p[1])
			c.fds = append(c.fds, p[0])
			wfd = append(wfd, p[1])
		}
	case Eventfd:
		c.msg = make([]byte, 8)
		binary.NativeEndian.PutUint64(c.msg, 1)
		for err == nil && len(c.fds) < cfg.FDs {
			var fd int
			if fd, err = eventfd(); err != nil {
				break
			}
			c.owned = append(c.owned, fd)
			c.fds = append(c.fds, fd)
			wfd = append(wfd, fd)
		}
	default:
		err = cfg.Kind.supported()
	}
	if err != nil {
		c.close()
		return nil, fmt.Errorf("chain: opening %d fds (%s): %w (raise the fd limit?)", cfg.FDs, cfg.Kind, err)
	}
	for _, fd := range c.owned {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			c.close()
			return nil, fmt.Errorf("chain: %w", os.NewSyscallError("fcntl", err))
		}
		c.maxFD = max(c.maxFD, fd)
	}
	c.wfd = make([]int, c.maxFD+1)
	c.out = make([]int, c.maxFD+1)
	for i, fd := range c.fds {
		c.wfd[fd] = wfd[i]
	}
	for i, fd := range c.fds {
		c.out[fd] = c.wfd[c.fds[(i+1)%len(c.fds)]]
	}
	return c, nil
}

// kick makes the round's active fds readable, spread evenly over the chain.
func (c *chans) kick(active int) {
	space := len(c.fds) / active
	for k := 0; k < active; k++ {
		unix.Write(c.wfd[c.fds[k*space]], c.msg)
	}
}

func (c *chans) close() {
	for _, fd := range c.owned {
		unix.Close(fd)
	}
	c.owned = nil
}

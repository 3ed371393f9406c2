package evnet

import (
	"errors"
	"fmt"
	"os"

	"github.com/evpoll/evpoll/loop"
)

// Errors reported by evnet. The timeout errors wrap os.ErrDeadlineExceeded.
var (
	// ErrClosed: the connection or listener is closed.
	ErrClosed = errors.New("evnet: use of closed connection")
	// ErrBadNetwork: the network name is not one evnet supports.
	ErrBadNetwork = errors.New("evnet: unsupported network")
	// ErrNotListener: an adopted file is not a listening stream socket.
	ErrNotListener = errors.New("evnet: not a stream socket")
	// ErrNoHandler: a listener or dial was given no Handler.
	ErrNoHandler = errors.New("evnet: nil handler")
	// ErrLoopStopped: the loop stopped (a hard stop, or a soft stop
	// ending with this still open) and closed the connection or
	// listener, or it refused a new one after it stopped. It wraps
	// loop.ErrStopped.
	ErrLoopStopped = fmt.Errorf("evnet: closed by the loop's stop: %w", loop.ErrStopped)

	// ErrReadTimeout: nothing arrived within the read timeout.
	ErrReadTimeout = fmt.Errorf("evnet: read timeout: %w", os.ErrDeadlineExceeded)
	// ErrWriteTimeout: buffered output made no progress within the write
	// timeout.
	ErrWriteTimeout = fmt.Errorf("evnet: write timeout: %w", os.ErrDeadlineExceeded)
	// ErrIdleTimeout: nothing was read or written within the idle timeout.
	ErrIdleTimeout = fmt.Errorf("evnet: idle timeout: %w", os.ErrDeadlineExceeded)
	// ErrDeadline: the deadline set with Conn.SetDeadline passed.
	ErrDeadline = fmt.Errorf("evnet: deadline: %w", os.ErrDeadlineExceeded)
	// ErrConnectTimeout: an outbound connect did not complete in time.
	ErrConnectTimeout = fmt.Errorf("evnet: connect timeout: %w", os.ErrDeadlineExceeded)
)

// sysErr wraps a system call's error with the call's name and what it was
// working on, so that errors.Is finds the errno.
func sysErr(what, call string, err error) error {
	return fmt.Errorf("evnet: %s: %w", what, os.NewSyscallError(call, err))
}

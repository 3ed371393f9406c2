package cli

import (
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/evpoll/evpoll/evnet"
	"github.com/evpoll/evpoll/loop"
)

// The seamless reload: the serving process listens on a Unix socket. A
// successor connects and receives the listening socket (SCM_RIGHTS); the
// serving process first gives up the Unix socket's path so that the
// successor can listen there in turn. The successor serves the socket,
// listens on the path and sends one byte; only then does the old process
// soft-stop. Both accept from the same kernel queue in between, so no
// connection is refused.

// reloader is the Unix socket a serving process offers its successor.
type reloader struct {
	path string
	mu   sync.Mutex
	ul   *net.UnixListener // nil once closed
}

// takeOver connects to path: if a process serves it, the listener is
// taken from it and nil returned otherwise. Either way this process then
// listens on path for its own successor.
func takeOver(l *loop.Loop, path string, opts evnet.Options) (*evnet.Listener, *reloader, error) {
	uc, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		// Nobody there: a stale path from a crash is removed.
		os.Remove(path)
		ctl, err := listenReload(path)
		return nil, ctl, err
	}
	defer uc.Close()
	uc.SetDeadline(time.Now().Add(10 * time.Second))
	files, err := evnet.ReceiveListeners(uc)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	ln, err := evnet.FileListener(l, files[0], opts)
	if err != nil {
		return nil, nil, err
	}
	ctl, err := listenReload(path)
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	if _, err := uc.Write([]byte{1}); err != nil {
		ln.Close()
		ctl.close()
		return nil, nil, fmt.Errorf("telling the old process: %w", err)
	}
	return ln, ctl, nil
}

func listenReload(path string) (*reloader, error) {
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ul.SetUnlinkOnClose(true)
	return &reloader{path: path, ul: ul}, nil
}

// close stops offering the listener (the program ends).
func (r *reloader) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ul != nil {
		r.ul.Close()
		r.ul = nil
	}
}

// relisten offers the listener again after a failed handover.
func (r *reloader) relisten() error {
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: r.path, Net: "unix"})
	if err != nil {
		return err
	}
	ul.SetUnlinkOnClose(true)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ul = ul
	return nil
}

func (r *reloader) listener() *net.UnixListener {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ul
}

// serve waits for a successor, hands ln over and soft-stops l once the
// successor serves. If the successor fails before that, this process
// keeps serving and waits for the next one.
func (r *reloader) serve(l *loop.Loop, ln *evnet.Listener, stderr io.Writer) {
	for {
		ul := r.listener()
		if ul == nil {
			return
		}
		uc, err := ul.AcceptUnix()
		if err != nil {
			return // closed: the program is ending
		}
		// Give the path up first: the successor listens there next.
		r.close()
		ok := handOver(uc, ln)
		uc.Close()
		if ok {
			l.SoftStop()
			return
		}
		fmt.Fprintln(stderr, "reload: the successor failed; still serving")
		if err := r.relisten(); err != nil {
			fmt.Fprintf(stderr, "reload: %v\n", err)
			return
		}
	}
}

func handOver(uc *net.UnixConn, ln *evnet.Listener) bool {
	uc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := evnet.SendListeners(uc, ln); err != nil {
		return false
	}
	var ack [1]byte
	_, err := io.ReadFull(uc, ack[:])
	return err == nil
}

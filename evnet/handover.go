package evnet

import (
	"bytes"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// handoverMagic starts every handover message, so that a successor does
// not take unrelated data for listening sockets.
var handoverMagic = []byte("evnet-listeners-1")

// maxHandover bounds the sockets of one handover.
const maxHandover = 64

// SendListeners hands the listening sockets of lns over the Unix socket
// uc to another process (SCM_RIGHTS), for a seamless reload like
// HAProxy's -x: the successor serves the same sockets with
// ReceiveListeners and FileListener, so both processes accept from one
// kernel queue until this one closes its listeners, and no connection is
// refused in between. The listeners keep working here; close them (or
// soft-stop the loop) once the successor says it serves.
func SendListeners(uc *net.UnixConn, lns ...*Listener) error {
	if len(lns) == 0 || len(lns) > maxHandover {
		return fmt.Errorf("evnet: send listeners: %d listeners, want 1..%d", len(lns), maxHandover)
	}
	fds := make([]int, len(lns))
	for i, ln := range lns {
		if ln.closed.Load() {
			return fmt.Errorf("evnet: send listeners: listener %d: %w", i, ErrClosed)
		}
		fds[i] = ln.fd
	}
	if _, _, err := uc.WriteMsgUnix(handoverMagic, unix.UnixRights(fds...), nil); err != nil {
		return fmt.Errorf("evnet: send listeners: %w", err)
	}
	return nil
}

// ReceiveListeners receives the listening sockets sent by SendListeners
// on uc, as files in the order they were sent, for FileListener; the
// caller closes them once it has made its listeners.
func ReceiveListeners(uc *net.UnixConn) ([]*os.File, error) {
	buf := make([]byte, len(handoverMagic))
	oob := make([]byte, unix.CmsgSpace(4*maxHandover))
	n, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, fmt.Errorf("evnet: receive listeners: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, sysErr("receive listeners", "recvmsg", err)
	}
	var fds []int
	for i := range msgs {
		got, err := unix.ParseUnixRights(&msgs[i])
		if err == nil {
			fds = append(fds, got...)
		}
	}
	var files []*os.File
	for _, fd := range fds {
		unix.CloseOnExec(fd)
		files = append(files, os.NewFile(uintptr(fd), "evnet-listener"))
	}
	if !bytes.Equal(buf[:n], handoverMagic) || len(files) == 0 {
		for _, f := range files {
			f.Close()
		}
		return nil, fmt.Errorf("evnet: receive listeners: %w", ErrNotListener)
	}
	return files, nil
}

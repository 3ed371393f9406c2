//go:build darwin || netbsd || openbsd || (solaris && !illumos)

package evnet

import "golang.org/x/sys/unix"

// accept takes one connection and makes it non-blocking and
// close-on-exec afterwards (no accept4 here, as golang.org/x/sys/unix
// offers it); a fork in between could leak the fd into the child.
func accept(fd int) (int, unix.Sockaddr, error) {
	cfd, sa, err := unix.Accept(fd)
	if err != nil {
		return -1, nil, err
	}
	unix.CloseOnExec(cfd)
	if err := unix.SetNonblock(cfd, true); err != nil {
		unix.Close(cfd)
		return -1, nil, err
	}
	noSigpipe(cfd)
	return cfd, sa, nil
}

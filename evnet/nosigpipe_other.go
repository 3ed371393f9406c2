//go:build netbsd || openbsd || (solaris && !illumos)

package evnet

// noSigpipe does nothing: a write to a closed peer raises SIGPIPE, which
// the Go runtime ignores for fds other than 1 and 2, and fails with EPIPE.
func noSigpipe(int) {}

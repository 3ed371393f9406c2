//go:build illumos || solaris

package evnet

import "golang.org/x/sys/unix"

// setReusePort fails: illumos has no SO_REUSEPORT.
func setReusePort(int) error { return unix.ENOPROTOOPT }

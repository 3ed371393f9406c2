package loop

import "golang.org/x/sys/unix"

// osThreadID identifies the calling OS thread.
func osThreadID() int { return unix.Gettid() }

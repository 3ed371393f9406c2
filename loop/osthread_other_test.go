//go:build !linux

package loop

// osThreadID identifies the calling OS thread where the system says; it
// is a constant elsewhere, where the check that uses it proves nothing.
func osThreadID() int { return 0 }

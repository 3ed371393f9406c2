//go:build !linux

package main

import (
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// openFDs counts the process's open fds, or returns -1.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents) - 1 // the directory's own fd
}

// rss returns -1: the resident set size is read from Linux's /proc only.
func rss() int { return -1 }

// peakRSS returns the peak resident set size in kB, getrusage's
// ru_maxrss (kept across exec, so it may include the parent's), or -1.
func peakRSS() int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss) >> 10 // bytes there
	}
	return int64(ru.Maxrss)
}

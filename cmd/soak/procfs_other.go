//go:build !linux

package main

import "os"

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

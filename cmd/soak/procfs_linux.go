package main

import (
	"bytes"
	"encoding/binary"
	"strconv"

	"golang.org/x/sys/unix"
)

// procBuf is openFDs' and rss's buffer, so that the periodic reports
// allocate nothing: listing /proc/self/fd with os.ReadDir allocated an
// entry per fd (1.7 MB a report at 19,000 fds), garbage that showed as a
// heap growing until the collector's first cycle. Only the goroutine
// that runs the soak calls them.
var procBuf [16 << 10]byte

// openFDs counts the process's open fds, or returns -1.
func openFDs() int {
	dir, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	defer unix.Close(dir)
	n := 0
	for {
		m, err := unix.Getdents(dir, procBuf[:])
		if err != nil {
			return -1
		}
		if m == 0 {
			break
		}
		// struct linux_dirent64: d_ino, d_off (8 bytes each), d_reclen
		// (2), d_type (1), then the name, NUL-terminated.
		for off := 0; off+19 < m; {
			name := procBuf[off+19:]
			if name[0] != '.' || (name[1] != 0 && (name[1] != '.' || name[2] != 0)) {
				n++
			}
			off += int(binary.NativeEndian.Uint16(procBuf[off+16:]))
		}
	}
	return n - 1 // the directory's own fd
}

// rss returns the resident set size in kB, from /proc/self/statm, or -1.
func rss() int {
	b := readProc("/proc/self/statm")
	if b == nil {
		return -1
	}
	// "size resident shared ...", in pages.
	fields, pages := 0, 0
	for _, c := range b {
		switch {
		case c == ' ':
			fields++
		case fields == 1 && c >= '0' && c <= '9':
			pages = pages*10 + int(c-'0')
		}
		if fields > 1 {
			break
		}
	}
	return pages * unix.Getpagesize() / 1024
}

// peakRSS returns the peak resident set size in kB, VmHWM from
// /proc/self/status, or -1. Unlike getrusage's ru_maxrss it is this
// program's own: ru_maxrss is kept across exec, and Go's os/exec starts a
// child on its parent's memory (CLONE_VM), so under go run ru_maxrss
// reported the go command's 23 MB.
func peakRSS() int64 {
	b := readProc("/proc/self/status")
	if b == nil {
		return -1
	}
	_, rest, ok := bytes.Cut(b, []byte("\nVmHWM:"))
	if !ok {
		return -1
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	kb, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(line), []byte("kB")))), 10, 64)
	if err != nil {
		return -1
	}
	return kb
}

// readProc reads the start of a /proc file into procBuf, without
// allocating; nil if it cannot be read.
func readProc(path string) []byte {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	m, err := unix.Read(fd, procBuf[:])
	if err != nil || m <= 0 {
		return nil
	}
	return procBuf[:m]
}

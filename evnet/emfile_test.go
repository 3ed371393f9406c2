package evnet

import (
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/evpoll/evpoll/loop"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestAcceptPausesOnEMFILE lowers RLIMIT_NOFILE so that accept fails with
// EMFILE: the listener pauses on a timer instead of spinning (a handful of
// pauses over the window, not one per poll), and accepts the waiting
// connection once descriptors are available again.
func TestAcceptPausesOnEMFILE(t *testing.T) {
	checkFDs(t)
	rec := newRecorder()
	var ln *Listener
	r := startLoop(t, 1, func(l *loop.Loop) {
		var err error
		ln, err = Listen(l, "tcp", "127.0.0.1:0", Options{Handler: rec, AcceptPause: 50 * time.Millisecond})
		require.NoError(t, err)
	})
	// The client socket exists before the limit: connect needs no new fd.
	cfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	require.NoError(t, err)
	defer unix.Close(cfd)

	var saved unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &saved))
	low := saved
	setLimit(&low.Cur, highestFD(t)+1)
	require.NoError(t, unix.Setrlimit(unix.RLIMIT_NOFILE, &low))
	// Fill the free numbers below the limit.
	var fillers []int
	for {
		fd, err := unix.Dup(cfd)
		if err != nil {
			require.ErrorIs(t, err, unix.EMFILE)
			break
		}
		fillers = append(fillers, fd)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			for _, fd := range fillers {
				unix.Close(fd)
			}
			require.NoError(t, unix.Setrlimit(unix.RLIMIT_NOFILE, &saved))
		}
	}
	defer restore()

	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, unix.Connect(cfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port}))
	require.Eventually(t, func() bool { return ln.Pauses() >= 1 }, 5*time.Second, time.Millisecond, "accept never hit EMFILE")
	time.Sleep(300 * time.Millisecond)
	pauses := ln.Pauses()
	restore()
	// 300 ms at one pause per 50 ms is about 6; a spinning listener would
	// count thousands.
	assert.LessOrEqual(t, pauses, uint64(12), "the listener spun on EMFILE")
	rec.next(t, "open")
	_, err = unix.Write(cfd, []byte("x"))
	require.NoError(t, err)
	assert.Equal(t, "x", rec.next(t, "data").data)
	unix.Close(cfd)
	rec.next(t, "close")
	r.softStop(t)
}

// highestFD returns the highest open fd number.
func highestFD(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir(fdDir)
	require.NoError(t, err)
	top := 0
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			top = max(top, n)
		}
	}
	return top
}

// setLimit sets an rlimit field, whose type differs between systems.
func setLimit[T int64 | uint64](p *T, n int) { *p = T(n) }

package evnet

import (
	"net"
	"os"
	"testing"

	"github.com/evpoll/evpoll/loop"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// unixPair returns both ends of a connected Unix socket pair.
func unixPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	require.NoError(t, err)
	var ends [2]*net.UnixConn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "pair")
		c, err := net.FileConn(f)
		f.Close()
		require.NoError(t, err)
		ends[i] = c.(*net.UnixConn)
		t.Cleanup(func() { ends[i].Close() })
	}
	return ends[0], ends[1]
}

// TestHandover: a listener's socket sent over a Unix socket is served by
// a second loop while the first still serves it; once the first closes,
// the second alone accepts, on the same address.
func TestHandover(t *testing.T) {
	checkFDs(t)
	oldRec, newRec := newRecorder(), newRecorder()
	var oldLn *Listener
	oldLoop := startLoop(t, 1, func(l *loop.Loop) {
		var err error
		oldLn, err = Listen(l, "tcp", "127.0.0.1:0", Options{Handler: oldRec})
		require.NoError(t, err)
	})
	a, b := unixPair(t)
	require.NoError(t, SendListeners(a, oldLn))
	files, err := ReceiveListeners(b)
	require.NoError(t, err)
	require.Len(t, files, 1)
	var newLn *Listener
	newLoop := startLoop(t, 1, func(l *loop.Loop) {
		newLn, err = FileListener(l, files[0], Options{Handler: newRec})
		require.NoError(t, err)
	})
	files[0].Close()
	assert.Equal(t, oldLn.Addr().String(), newLn.Addr().String())

	require.NoError(t, oldLn.Close())
	for range 5 {
		c := dialTest(t, newLn)
		newRec.next(t, "open")
		c.Close()
		newRec.next(t, "close")
	}
	select {
	case e := <-oldRec.ev:
		t.Fatalf("the closed listener accepted: %+v", e)
	default:
	}
	oldLoop.softStop(t)
	newLoop.softStop(t)
}

func TestReceiveListenersRejectsOtherData(t *testing.T) {
	checkFDs(t)
	a, b := unixPair(t)
	_, err := a.Write([]byte("not a handover message"))
	require.NoError(t, err)
	_, err = ReceiveListeners(b)
	assert.ErrorIs(t, err, ErrNotListener)
}

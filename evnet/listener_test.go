package evnet

import (
	"errors"
	"io"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/loop"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// roundTrip writes msg on c and reads it back.
func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	_, err := c.Write([]byte(msg))
	require.NoError(t, err)
	got := make([]byte, len(msg))
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	assert.Equal(t, msg, string(got))
}

func TestListenEcho(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "echo.sock")
	for _, tc := range []struct{ network, addr string }{
		{"tcp", "127.0.0.1:0"},
		{"tcp4", "127.0.0.1:0"},
		{"tcp6", "[::1]:0"},
		{"unix", sock},
	} {
		t.Run("network="+tc.network, func(t *testing.T) {
			checkFDs(t)
			h := &echoHandler{}
			var ln *Listener
			r := startLoop(t, 2, func(l *loop.Loop) {
				var err error
				ln, err = Listen(l, tc.network, tc.addr, Options{Handler: h})
				if tc.network == "tcp6" && err != nil {
					t.Skipf("no IPv6 loopback: %v", err)
				}
				require.NoError(t, err)
			})
			assert.Equal(t, ln.Addr().Network(), map[string]string{"unix": "unix"}[tc.network]+map[bool]string{true: "tcp"}[tc.network != "unix"])
			for i := range 4 {
				c := dialTest(t, ln)
				roundTrip(t, c, "hello "+string(rune('a'+i)))
				c.Close()
			}
			r.softStop(t)
			if tc.network == "unix" {
				assert.NoFileExists(t, sock, "socket file removed on close")
			}
		})
	}
}

func TestListenErrors(t *testing.T) {
	l, err := loop.New(loop.Config{Threads: 1, Table: fdtable.New(1024)})
	require.NoError(t, err)
	defer l.Close()
	h := &echoHandler{}
	_, err = Listen(l, "udp", "127.0.0.1:0", Options{Handler: h})
	assert.ErrorIs(t, err, ErrBadNetwork)
	_, err = Listen(l, "tcp", "127.0.0.1:0", Options{})
	assert.ErrorIs(t, err, ErrNoHandler)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	_, err = Listen(l, "tcp", taken.Addr().String(), Options{Handler: h})
	assert.ErrorIs(t, err, syscall.EADDRINUSE)
	_, err = Listen(l, "tcp", "127.0.0.1:0", Options{Handler: h, Thread: 3})
	assert.Error(t, err)
}

func TestReusePortTwoListeners(t *testing.T) {
	checkFDs(t)
	h := &echoHandler{}
	var a, b *Listener
	r := startLoop(t, 1, func(l *loop.Loop) {
		var err error
		a, err = Listen(l, "tcp", "127.0.0.1:0", Options{Handler: h, ReusePort: true})
		require.NoError(t, err)
		b, err = Listen(l, "tcp", a.Addr().String(), Options{Handler: h, ReusePort: true})
		require.NoError(t, err, "second SO_REUSEPORT listener on the same port")
	})
	for range 8 {
		c := dialTest(t, a)
		roundTrip(t, c, "x")
		c.Close()
	}
	_ = b
	r.softStop(t)
}

// TestAcceptSpreadsOverThreads pins the thread choice: with connections
// kept open, the two-choices pick keeps the threads within one of each
// other.
func TestAcceptSpreadsOverThreads(t *testing.T) {
	checkFDs(t)
	rec := newRecorder()
	var ln *Listener
	r := startLoop(t, 3, func(l *loop.Loop) {
		var err error
		ln, err = Listen(l, "tcp", "127.0.0.1:0", Options{Handler: rec})
		require.NoError(t, err)
	})
	const n = 90
	perThread := map[int]int{}
	var conns []net.Conn
	for range n {
		conns = append(conns, dialTest(t, ln))
		perThread[rec.next(t, "open").tid]++
	}
	for tid := range 3 {
		assert.InDelta(t, n/3, perThread[tid], 1, "thread %d: %v", tid, perThread)
	}
	for _, c := range conns {
		c.Close()
		rec.next(t, "close")
	}
	r.softStop(t)
}

func TestPickRestrictedMask(t *testing.T) {
	l, err := loop.New(loop.Config{Threads: 4, Table: fdtable.New(1024)})
	require.NoError(t, err)
	defer l.Close()
	st, err := acquire(l)
	require.NoError(t, err)
	defer st.release()
	var next uint32
	seen := map[int]int{}
	for range 100 {
		ts := st.pick(0b1010, &next)
		ts.conns.Add(1)
		seen[ts.th.ID()]++
	}
	assert.Equal(t, map[int]int{1: 50, 3: 50}, seen)
	for _, ts := range st.threads {
		ts.conns.Store(0)
	}
	st.threads[1].conns.Store(10)
	for range 10 {
		ts := st.pick(0b1010, &next)
		ts.conns.Add(1)
		assert.Equal(t, 3, ts.th.ID(), "the less loaded thread wins")
	}
}

func TestAdoptTCPListener(t *testing.T) {
	checkFDs(t)
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	h := &echoHandler{}
	var ln *Listener
	r := startLoop(t, 1, func(l *loop.Loop) {
		ln, err = AdoptListener(l, nl.(*net.TCPListener), Options{Handler: h})
		require.NoError(t, err)
	})
	require.NoError(t, nl.Close(), "the original is the caller's to close")
	assert.Equal(t, nl.Addr().String(), ln.Addr().String())
	c := dialTest(t, ln)
	roundTrip(t, c, "adopted")
	c.Close()
	r.softStop(t)
}

func TestFileListener(t *testing.T) {
	checkFDs(t)
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f, err := nl.(*net.TCPListener).File()
	require.NoError(t, err)
	nl.Close()
	h := &echoHandler{}
	var ln *Listener
	r := startLoop(t, 1, func(l *loop.Loop) {
		ln, err = FileListener(l, f, Options{Handler: h})
		require.NoError(t, err)
	})
	f.Close()
	c := dialTest(t, ln)
	roundTrip(t, c, "from a file")
	c.Close()
	r.softStop(t)
}

func TestAdoptRejectsNonStream(t *testing.T) {
	checkFDs(t)
	l, err := loop.New(loop.Config{Threads: 1, Table: fdtable.New(1024)})
	require.NoError(t, err)
	defer l.Close()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer pc.Close()
	_, err = AdoptListener(l, pc.(*net.UDPConn), Options{Handler: &echoHandler{}})
	assert.ErrorIs(t, err, ErrNotListener)
}

func TestClassifyAccept(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want acceptAction
	}{
		{unix.EAGAIN, acceptStop},
		{unix.EINTR, acceptRetry},
		{unix.ECONNABORTED, acceptRetry},
		{unix.EPROTO, acceptRetry},
		{unix.EMFILE, acceptPause},
		{unix.ENFILE, acceptPause},
		{unix.ENOBUFS, acceptPause},
		{unix.ENOMEM, acceptPause},
		{errors.New("unexpected"), acceptPause},
	} {
		assert.Equal(t, tc.want, classifyAccept(tc.err), "%v", tc.err)
	}
}

// TestSoftStopClosesListener: after a soft stop new connections are
// refused while an open one keeps working, and the loop ends when it
// closes.
func TestSoftStopClosesListener(t *testing.T) {
	checkFDs(t)
	h := &echoHandler{}
	var ln *Listener
	r := startLoop(t, 2, func(l *loop.Loop) {
		var err error
		ln, err = Listen(l, "tcp", "127.0.0.1:0", Options{Handler: h})
		require.NoError(t, err)
	})
	c := dialTest(t, ln)
	roundTrip(t, c, "before")
	r.l.AddJobs(-1)
	r.l.SoftStop()
	require.Eventually(t, func() bool {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			nc.Close()
		}
		return errors.Is(err, syscall.ECONNREFUSED)
	}, 5*time.Second, 10*time.Millisecond, "listener closed on soft stop")
	roundTrip(t, c, "after")
	select {
	case <-r.done:
		t.Fatal("loop ended with a connection open")
	case <-time.After(50 * time.Millisecond):
	}
	c.Close()
	select {
	case err := <-r.done:
		require.NoError(t, err)
		r.done <- err
	case <-time.After(5 * time.Second):
		t.Fatal("loop did not end after the last connection closed")
	}
}

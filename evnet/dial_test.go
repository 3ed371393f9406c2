package evnet

import (
	"io"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// goEcho runs a net-package echo server on network and addr.
func goEcho(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	nl, err := net.Listen(network, addr)
	require.NoError(t, err)
	t.Cleanup(func() { nl.Close() })
	go func() {
		for {
			c, err := nl.Accept()
			if err != nil {
				return
			}
			go func() {
				// Plain reads and writes: io.Copy between sockets would
				// splice through a pipe that the net package caches,
				// which the fd count would take for a leak.
				io.Copy(struct{ io.Writer }{c}, struct{ io.Reader }{c})
				c.Close()
			}()
		}
	}()
	return nl
}

func TestDial(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "backend.sock")
	for _, network := range []string{"tcp", "unix"} {
		t.Run("network="+network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = sock
			}
			nl := goEcho(t, network, addr)
			checkFDs(t)
			r := startLoop(t, 2, nil)
			rec := newRecorder()
			rec.open = func(c *Conn) { c.Write([]byte("dialed")) }
			rec.data = func(c *Conn, p []byte) { rec.ev <- event{kind: "data", data: string(p)}; c.Close() }
			th := r.l.Threads()[1]
			_, err := Dial(r.l, th, network, nl.Addr().String(), time.Second, rec)
			require.NoError(t, err)
			assert.Equal(t, 1, rec.next(t, "open").tid, "the connection is on the thread asked for")
			assert.Equal(t, "dialed", rec.next(t, "data").data)
			assert.NoError(t, rec.next(t, "close").err)
			r.softStop(t)
		})
	}
}

func TestDialRefused(t *testing.T) {
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := nl.Addr().String()
	nl.Close()
	checkFDs(t)
	r := startLoop(t, 1, nil)
	rec := newRecorder()
	_, err = Dial(r.l, nil, "tcp", addr, time.Second, rec)
	require.NoError(t, err)
	e := <-rec.ev
	require.Equal(t, "close", e.kind, "no OnOpen for a failed dial")
	assert.ErrorIs(t, e.err, syscall.ECONNREFUSED)
	r.softStop(t)
}

// TestDialTimeout connects to a listener whose accept queue is full, so
// the kernel drops the SYN and the connect stays in progress.
func TestDialTimeout(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	require.NoError(t, err)
	defer unix.Close(fd)
	require.NoError(t, unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, unix.Listen(fd, 0))
	sa, err := unix.Getsockname(fd)
	require.NoError(t, err)
	addr := toAddr(sa).String()
	// Fill the accept queue.
	for range 4 {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			defer c.Close()
		}
	}
	checkFDs(t)
	r := startLoop(t, 1, nil)
	rec := newRecorder()
	start := time.Now()
	_, err = Dial(r.l, nil, "tcp", addr, 100*time.Millisecond, rec)
	require.NoError(t, err)
	e := <-rec.ev
	require.Equal(t, "close", e.kind)
	assert.ErrorIs(t, e.err, ErrConnectTimeout)
	assert.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
	r.softStop(t)
}

func TestDialErrors(t *testing.T) {
	r := startLoop(t, 1, nil)
	_, err := Dial(r.l, nil, "udp", "127.0.0.1:1", 0, newRecorder())
	assert.ErrorIs(t, err, ErrBadNetwork)
	_, err = Dial(r.l, nil, "tcp", "127.0.0.1:1", 0, nil)
	assert.ErrorIs(t, err, ErrNoHandler)
	r.softStop(t)
}

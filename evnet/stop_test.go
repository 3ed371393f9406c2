package evnet

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/loop"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A hard stop with connections open closes every one of them, their
// listener and the connections still queued for a thread, with
// ErrLoopStopped reported to OnClose, and leaves no fd behind; the
// stopped loop refuses new listeners and dials.
func TestHardStopClosesEverything(t *testing.T) {
	// The runtime's own poller fd is opened by the first net use: open
	// it before counting.
	warm, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	warm.Close()
	before := openFDs(t)

	l, err := loop.New(loop.Config{Threads: 2, Table: fdtable.New(1024)})
	require.NoError(t, err)
	h := &echoHandler{}
	ln, err := Listen(l, "tcp", "127.0.0.1:0", Options{Handler: h})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- l.Run() }()

	const n = 20
	clients := make([]net.Conn, n)
	for i := range clients {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		clients[i] = c
		_, err = c.Write([]byte("ping"))
		require.NoError(t, err)
		buf := make([]byte, 4)
		_, err = io.ReadFull(c, buf)
		require.NoError(t, err, "client %d: no echo", i)
	}
	// One outbound connection too, to the listener itself: its server
	// side is one more accepted connection.
	rec := newRecorder()
	_, err = Dial(l, nil, "tcp", ln.Addr().String(), time.Second, rec)
	require.NoError(t, err)
	rec.next(t, "open")
	require.Eventually(t, func() bool { return l.Jobs() == 1+n+2 }, 5*time.Second, time.Millisecond,
		"listener, %d clients and the dial's two sides should be jobs", n)

	l.Stop()
	require.NoError(t, <-done)

	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	require.Len(t, closed, n+1, "every accepted connection's OnClose should have run")
	for _, err := range closed {
		assert.ErrorIs(t, err, ErrLoopStopped)
		assert.ErrorIs(t, err, loop.ErrStopped)
	}
	assert.ErrorIs(t, rec.next(t, "close").err, ErrLoopStopped)
	for i, c := range clients {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := c.Read(make([]byte, 1))
		assert.True(t, errors.Is(err, io.EOF), "client %d: read after the stop: %v", i, err)
		c.Close()
	}
	_, err = net.Dial("tcp", ln.Addr().String())
	assert.Error(t, err, "the listener still accepts after the stop")
	assert.Equal(t, 0, l.Jobs())

	_, err = Listen(l, "tcp", "127.0.0.1:0", Options{Handler: h})
	assert.ErrorIs(t, err, ErrLoopStopped)
	_, err = Dial(l, nil, "tcp", ln.Addr().String(), time.Second, rec)
	assert.ErrorIs(t, err, ErrLoopStopped)

	assert.Eventually(t, func() bool { return openFDs(t) == before }, 2*time.Second, 10*time.Millisecond,
		"fds left open after the hard stop")
}

// A loop closed without running closes its listeners too.
func TestCloseUnrunLoopClosesListeners(t *testing.T) {
	before := openFDs(t)
	l, err := loop.New(loop.Config{Threads: 1, Table: fdtable.New(1024)})
	require.NoError(t, err)
	_, err = Listen(l, "tcp", "127.0.0.1:0", Options{Handler: &echoHandler{}})
	require.NoError(t, err)
	require.NoError(t, l.Close())
	assert.Equal(t, before, openFDs(t))
	assert.Equal(t, 0, l.Jobs())
}

package evnet

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/evpoll/evpoll/loop"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Fault injection over real sockets: peers that reset, vanish, stop
// reading, and timers that come due while a connection is closing. Each
// test counts the process's fds before and after (checkFDs).

// TestPeerResetMidWrite: the server is writing a response much larger
// than the socket buffers when the client resets the connection
// (SO_LINGER 0, then close). Over many rounds on two threads, every
// connection ends in one OnClose whose error is ECONNRESET or EPIPE from
// the failing call, and no fd is left behind.
func TestPeerResetMidWrite(t *testing.T) {
	checkFDs(t)
	const rounds = 40
	big := bytes.Repeat([]byte("r"), 8<<20)
	rec := newRecorder()
	rec.open = func(c *Conn) { c.Write(big) }
	r, ln := listenRec(t, 2, rec, Options{})
	for i := range rounds {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		rec.next(t, "open")
		// Take part of the response, so the server is mid-write.
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.ReadFull(c, make([]byte, 1+i*1000))
		require.NoError(t, err)
		require.NoError(t, c.(*net.TCPConn).SetLinger(0))
		require.NoError(t, c.Close())
		e := rec.next(t, "close")
		require.True(t, errors.Is(e.err, syscall.ECONNRESET) || errors.Is(e.err, syscall.EPIPE),
			"round %d: OnClose got %v, want ECONNRESET or EPIPE", i, e.err)
	}
	r.softStop(t)
	select {
	case e := <-rec.ev:
		t.Fatalf("callback %q after the last OnClose", e.kind)
	default:
	}
}

// TestHalfOpenIdleTimeout: connections whose peer goes quiet without
// closing are closed by the idle timeout: a peer that connects and never
// sends (as if it vanished without a FIN), one that shuts its read side,
// and one that sent its FIN to a handler that keeps the connection half
// open for writing. The server's fds are all closed while the clients
// still hold theirs.
func TestHalfOpenIdleTimeout(t *testing.T) {
	checkFDs(t)
	const perKind = 20
	rec := newRecorder()
	r, ln := listenRec(t, 2, eofRecorder{rec}, Options{IdleTimeout: 100 * time.Millisecond})
	before := openFDs(t)
	var clients []net.Conn
	for i := range 3 * perKind {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		clients = append(clients, c)
		switch i % 3 {
		case 1:
			require.NoError(t, c.(*net.TCPConn).CloseRead())
		case 2:
			require.NoError(t, c.(*net.TCPConn).CloseWrite())
		}
	}
	start := time.Now()
	for range 3 * perKind {
		e := rec.next(t, "close")
		require.ErrorIs(t, e.err, ErrIdleTimeout)
	}
	assert.Less(t, time.Since(start), 3*time.Second)
	// The server's side of every connection is closed; the clients' are
	// still open.
	require.Eventually(t, func() bool { return openFDs(t) == before+len(clients) }, 2*time.Second, 5*time.Millisecond,
		"server fds still open: %d, want %d", openFDs(t), before+len(clients))
	for i, c := range clients {
		if i%3 != 1 {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err := c.Read(make([]byte, 1))
			assert.ErrorIs(t, err, io.EOF, "client %d sees the server's close", i)
		}
		c.Close()
	}
	r.softStop(t)
}

// response is what the never-reading test writes per request.
var response = bytes.Repeat([]byte("p"), 64<<10)

// TestNeverReadingPeer: a client sends requests and never reads the
// responses. The server answers every request it reads with 64 KiB;
// back-pressure stops reading once the output passes the high-water mark,
// so the output buffer never holds more than the mark plus one response,
// and the write timeout closes the connection once nothing moves.
func TestNeverReadingPeer(t *testing.T) {
	checkFDs(t)
	const hw = 128 << 10
	var maxBuf, requests atomic.Int64
	rec := newRecorder()
	rec.data = func(c *Conn, p []byte) {
		requests.Add(1)
		c.Write(response)
		n := int64(c.Buffered())
		if n > maxBuf.Load() {
			maxBuf.Store(n)
		}
		if n > 64<<20 {
			c.Abort() // broken back-pressure: do not eat the machine
		}
	}
	r, ln := listenRec(t, 1, rec, Options{HighWater: hw, WriteTimeout: 300 * time.Millisecond})
	c := dialTest(t, ln).(*net.TCPConn)
	require.NoError(t, c.SetReadBuffer(4<<10))
	sent := make(chan error, 1)
	go func() {
		req := bytes.Repeat([]byte("q"), 1024)
		for {
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write(req); err != nil {
				sent <- err
				return
			}
		}
	}()
	start := time.Now()
	e := rec.next(t, "close")
	assert.ErrorIs(t, e.err, ErrWriteTimeout)
	assert.Less(t, time.Since(start), 4*time.Second)
	assert.Greater(t, maxBuf.Load(), int64(hw), "the high-water mark was reached")
	assert.LessOrEqual(t, maxBuf.Load(), int64(hw+len(response)), "output bounded by high-water plus one write")
	// The client's writes end once the server is gone (reset, or the
	// deadline if its own buffers are full).
	err := <-sent
	assert.True(t, errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, os.ErrDeadlineExceeded), "client write: %v", err)
	c.Close()
	r.softStop(t)
}

// closeWatch is a handler that counts, per connection, the callbacks that
// come after OnClose and the OnClose calls, for the timer/close race.
type closeWatch struct {
	bad    atomic.Int64 // callbacks after OnClose, or second OnClose
	closes atomic.Int64
	mu     sync.Mutex
	errs   map[string]int
	timers []timerAtClose
}

// timerAtClose is a connection's timer task and how often it had run
// when OnClose was called.
type timerAtClose struct {
	task  *loop.Task
	calls uint32
}

// watched is the per-connection state of closeWatch.
type watched struct{ closed bool }

var bigOut = bytes.Repeat([]byte("o"), 256<<10)

func (w *closeWatch) check(c *Conn) *watched {
	s := c.Context().(*watched)
	if s.closed {
		w.bad.Add(1)
	}
	return s
}

func (w *closeWatch) OnOpen(c *Conn) {
	c.SetContext(&watched{})
	// 1 ms timeouts: due about when the client's byte arrives.
	c.SetIdleTimeout(time.Millisecond)
	c.SetReadTimeout(time.Millisecond)
	c.SetWriteTimeout(time.Millisecond)
}

// OnData closes the connection in one of four ways, chosen by the
// client's byte.
func (w *closeWatch) OnData(c *Conn, p []byte) {
	w.check(c)
	switch p[0] {
	case 'c':
		c.Close()
	case 'a':
		c.Abort()
	case 'w': // more than the socket takes: Close waits on the write timeout
		c.Write(bigOut)
		c.Close()
	case 'h':
		c.Write(p)
		c.CloseWrite()
	}
}

func (w *closeWatch) OnWritable(c *Conn) { w.check(c) }
func (w *closeWatch) OnEOF(c *Conn)      { w.check(c) }

func (w *closeWatch) OnClose(c *Conn, err error) {
	s := w.check(c)
	s.closed = true
	w.closes.Add(1)
	msg := "nil"
	if err != nil {
		msg = err.Error()
	}
	w.mu.Lock()
	w.errs[msg]++
	if c.task != nil {
		w.timers = append(w.timers, timerAtClose{c.task, c.task.Calls()})
	}
	w.mu.Unlock()
}

// TestTimersWhileClosing races every close path against timers that come
// due at the same moment: the connection's read, write and idle timeouts
// are 1 ms, and the client's byte, which makes the handler Close, Abort,
// Write then Close, or CloseWrite, arrives 0 to 2 ms after the connect
// (some clients send nothing). Over thousands of connections on two
// threads, OnClose runs exactly once per connection and no callback runs
// after it, not even the connection's timer task.
func TestTimersWhileClosing(t *testing.T) {
	checkFDs(t)
	const conns, parallel = 3000, 16
	w := &closeWatch{errs: map[string]int{}}
	r, ln := listenRec(t, 2, w, Options{})
	var wg sync.WaitGroup
	var dialErrs atomic.Int64
	work := make(chan int)
	for range parallel {
		wg.Go(func() {
			buf := make([]byte, 64<<10)
			for i := range work {
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					dialErrs.Add(1)
					continue
				}
				time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
				if mode := "caw h"[i%5]; mode != ' ' {
					c.Write([]byte{mode})
				}
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				for {
					if _, err := c.Read(buf); err != nil {
						break
					}
				}
				c.Close()
			}
		})
	}
	for i := range conns {
		work <- i
	}
	close(work)
	wg.Wait()
	require.Zero(t, dialErrs.Load())
	require.Eventually(t, func() bool { return w.closes.Load() == conns }, 5*time.Second, time.Millisecond,
		"OnClose ran %d times for %d connections", w.closes.Load(), conns)
	r.softStop(t)
	assert.Equal(t, int64(conns), w.closes.Load(), "OnClose exactly once per connection")
	assert.Zero(t, w.bad.Load(), "callbacks after OnClose")
	w.mu.Lock()
	late := 0
	for _, tc := range w.timers {
		if tc.task.Calls() != tc.calls {
			late++
		}
	}
	assert.Zero(t, late, "timer tasks that ran after their connection's OnClose")
	t.Logf("close reasons: %v", w.errs)
	w.mu.Unlock()
}

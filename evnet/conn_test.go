package evnet

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/evpoll/evpoll/loop"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// listenRec runs a loop of threads with a listener whose connections go
// to h, applying opts.
func listenRec(t *testing.T, threads int, h Handler, opts Options) (*running, *Listener) {
	t.Helper()
	var ln *Listener
	opts.Handler = h
	r := startLoop(t, threads, func(l *loop.Loop) {
		var err error
		ln, err = Listen(l, "tcp", "127.0.0.1:0", opts)
		require.NoError(t, err)
	})
	return r, ln
}

// TestHighWaterStopsReading: a peer that sends without reading fills the
// output buffer past the high-water mark; reading then stops, so the
// buffer stays bounded, and resumes once the peer reads.
func TestHighWaterStopsReading(t *testing.T) {
	checkFDs(t)
	const hw = 64 << 10
	rec := newRecorder()
	var mu sync.Mutex
	maxBuf, drains := 0, 0
	rec.data = func(c *Conn, p []byte) {
		c.Write(p)
		mu.Lock()
		maxBuf = max(maxBuf, c.Buffered())
		mu.Unlock()
	}
	rec.drained = func(c *Conn) { mu.Lock(); drains++; mu.Unlock() }
	r, ln := listenRec(t, 1, rec, Options{HighWater: hw})
	c := dialTest(t, ln).(*net.TCPConn)
	c.SetReadBuffer(16 << 10)
	chunk := bytes.Repeat([]byte("x"), 32<<10)
	sent := 0
	// Write until the kernel buffers on both sides and ours are full.
	for {
		c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := c.Write(chunk)
		sent += n
		if err != nil {
			require.ErrorIs(t, err, os.ErrDeadlineExceeded)
			break
		}
		require.Less(t, sent, 256<<20, "the server never stopped reading")
	}
	mu.Lock()
	assert.LessOrEqual(t, maxBuf, hw+readBufSize, "output buffer bounded by the high-water mark plus one read")
	assert.Greater(t, maxBuf, hw, "the high-water mark was reached")
	mu.Unlock()
	// Now read everything back: the server resumes and echoes it all.
	c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() { c.CloseWrite() }()
	got, err := io.Copy(io.Discard, io.LimitReader(c, int64(sent)))
	require.NoError(t, err)
	assert.Equal(t, int64(sent), got)
	mu.Lock()
	assert.Positive(t, drains, "OnWritable after the buffer drained")
	mu.Unlock()
	c.Close()
	rec.next(t, "close")
	r.softStop(t)
}

// TestHalfClose: the peer's FIN reaches OnEOF, the server still writes,
// then shuts its side: the client reads everything and EOF.
func TestHalfClose(t *testing.T) {
	checkFDs(t)
	rec := newRecorder()
	var got bytes.Buffer
	rec.data = func(c *Conn, p []byte) { got.Write(p) }
	rec.eof = func(c *Conn) {
		c.Write([]byte("you said: "))
		c.Write(got.Bytes())
		require.NoError(t, c.CloseWrite())
	}
	r, ln := listenRec(t, 1, eofRecorder{rec}, Options{})
	c := dialTest(t, ln).(*net.TCPConn)
	_, err := c.Write([]byte("ping"))
	require.NoError(t, err)
	require.NoError(t, c.CloseWrite())
	rec.next(t, "eof")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	reply, err := io.ReadAll(c)
	require.NoError(t, err)
	assert.Equal(t, "you said: ping", string(reply))
	e := rec.next(t, "close")
	assert.ErrorIs(t, e.err, io.EOF, "both sides shut")
	r.softStop(t)
}

// TestPeerEOFWithoutEOFHandler: a handler without OnEOF sees the
// connection closed with io.EOF after its output is written.
func TestPeerEOFWithoutEOFHandler(t *testing.T) {
	checkFDs(t)
	rec := newRecorder()
	r, ln := listenRec(t, 1, rec, Options{})
	c := dialTest(t, ln)
	rec.next(t, "open")
	c.Close()
	assert.ErrorIs(t, rec.next(t, "close").err, io.EOF)
	r.softStop(t)
}

// TestPeerReset: an RST from the peer closes the connection with an
// error that errors.Is matches against ECONNRESET.
func TestPeerReset(t *testing.T) {
	checkFDs(t)
	rec := newRecorder()
	r, ln := listenRec(t, 1, rec, Options{})
	c := dialTest(t, ln).(*net.TCPConn)
	rec.next(t, "open")
	// Unread data at close makes the kernel send an RST even without linger.
	require.NoError(t, c.SetLinger(0))
	require.NoError(t, c.Close())
	e := rec.next(t, "close")
	assert.ErrorIs(t, e.err, syscall.ECONNRESET)
	r.softStop(t)
}

// TestWriteToClosedPeer: writing to a peer that is gone ends in OnClose
// with EPIPE or ECONNRESET, never a panic or a silent drop.
func TestWriteToClosedPeer(t *testing.T) {
	checkFDs(t)
	rec := newRecorder()
	var wrote chan error = make(chan error, 1)
	rec.eof = func(c *Conn) {
		// The peer is gone: keep writing until the kernel says so.
		for range 1000 {
			if _, err := c.Write(bytes.Repeat([]byte("z"), 4096)); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}
	r, ln := listenRec(t, 1, eofRecorder{rec}, Options{})
	c := dialTest(t, ln)
	rec.next(t, "open")
	c.Close()
	rec.next(t, "eof")
	e := rec.next(t, "close")
	assert.True(t, errors.Is(e.err, syscall.EPIPE) || errors.Is(e.err, syscall.ECONNRESET), "got %v", e.err)
	r.softStop(t)
}

// TestAbortResets: Abort makes the peer see a reset, not an EOF.
func TestAbortResets(t *testing.T) {
	checkFDs(t)
	rec := newRecorder()
	rec.data = func(c *Conn, p []byte) { c.Abort() }
	r, ln := listenRec(t, 1, rec, Options{})
	c := dialTest(t, ln)
	_, err := c.Write([]byte("reset me"))
	require.NoError(t, err)
	assert.NoError(t, rec.next(t, "close").err)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 10))
	assert.ErrorIs(t, err, syscall.ECONNRESET)
	r.softStop(t)
}

// TestCloseFlushesOutput: Close after Write delivers the bytes, then EOF.
func TestCloseFlushesOutput(t *testing.T) {
	checkFDs(t)
	rec := newRecorder()
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB, more than the socket takes at once
	rec.open = func(c *Conn) {
		c.Write(big)
		c.Close()
	}
	r, ln := listenRec(t, 1, rec, Options{})
	c := dialTest(t, ln)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(big, got), "got %d bytes, want %d", len(got), len(big))
	assert.NoError(t, rec.next(t, "close").err)
	r.softStop(t)
}

func TestTimeouts(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want error
		poke bool // keep writing so that only the read timeout can fire
	}{
		{"idle", Options{IdleTimeout: 50 * time.Millisecond}, ErrIdleTimeout, false},
		{"read", Options{ReadTimeout: 50 * time.Millisecond}, ErrReadTimeout, false},
	} {
		t.Run("timeout="+tc.name, func(t *testing.T) {
			checkFDs(t)
			rec := newRecorder()
			r, ln := listenRec(t, 1, rec, tc.opts)
			c := dialTest(t, ln)
			start := time.Now()
			rec.next(t, "open")
			// Activity pushes the deadline back.
			for range 4 {
				time.Sleep(20 * time.Millisecond)
				c.Write([]byte("."))
			}
			e := rec.next(t, "close")
			elapsed := time.Since(start)
			assert.ErrorIs(t, e.err, tc.want)
			assert.ErrorIs(t, e.err, os.ErrDeadlineExceeded)
			assert.GreaterOrEqual(t, elapsed, 120*time.Millisecond, "activity pushed the deadline")
			assert.Less(t, elapsed, 3*time.Second)
			r.softStop(t)
		})
	}
}

func TestWriteTimeout(t *testing.T) {
	checkFDs(t)
	rec := newRecorder()
	rec.open = func(c *Conn) {
		c.SetWriteTimeout(100 * time.Millisecond)
		c.Write(bytes.Repeat([]byte("w"), 16<<20)) // never read by the client
	}
	r, ln := listenRec(t, 1, rec, Options{})
	c := dialTest(t, ln)
	_ = c
	e := rec.next(t, "close")
	assert.ErrorIs(t, e.err, ErrWriteTimeout)
	r.softStop(t)
}

// TestUserContext: the value set on a connection is there in its later
// callbacks.
func TestUserContext(t *testing.T) {
	checkFDs(t)
	rec := newRecorder()
	type session struct{ n int }
	rec.open = func(c *Conn) { c.SetContext(&session{}) }
	rec.data = func(c *Conn, p []byte) {
		s := c.Context().(*session)
		s.n += len(p)
		if s.n >= 6 {
			c.Write([]byte("six"))
		}
	}
	r, ln := listenRec(t, 1, rec, Options{})
	c := dialTest(t, ln)
	for _, m := range []string{"ab", "cd", "ef"} {
		c.Write([]byte(m))
		time.Sleep(5 * time.Millisecond)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 3)
	_, err := io.ReadFull(c, buf)
	require.NoError(t, err)
	assert.Equal(t, "six", string(buf))
	c.Close()
	r.softStop(t)
}

// TestAsyncWriteFromGoroutines: many goroutines write to one connection
// at once; every byte arrives, and each write's bytes stay together.
func TestAsyncWriteFromGoroutines(t *testing.T) {
	checkFDs(t)
	rec := newRecorder()
	conns := make(chan *Conn, 1)
	rec.open = func(c *Conn) { conns <- c }
	r, ln := listenRec(t, 2, rec, Options{})
	nc := dialTest(t, ln)
	c := <-conns
	const writers, each = 4, 5000
	msg := []byte("0123456789")
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				assert.NoError(t, c.AsyncWrite(msg))
			}
		})
	}
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	got := make([]byte, writers*each*len(msg))
	_, err := io.ReadFull(nc, got)
	require.NoError(t, err)
	wg.Wait()
	assert.True(t, bytes.Equal(bytes.Repeat(msg, writers*each), got), "writes interleaved or lost")
	nc.Close()
	rec.next(t, "close")
	assert.ErrorIs(t, c.AsyncWrite(msg), ErrClosed)
	r.softStop(t)
}

// TestPauseRead: a paused connection reads nothing until resumed.
func TestPauseRead(t *testing.T) {
	checkFDs(t)
	rec := newRecorder()
	conns := make(chan *Conn, 1)
	rec.open = func(c *Conn) { c.PauseRead(); conns <- c }
	r, ln := listenRec(t, 1, rec, Options{})
	nc := dialTest(t, ln)
	c := <-conns
	rec.next(t, "open")
	nc.Write([]byte("held"))
	select {
	case e := <-rec.ev:
		t.Fatalf("event while paused: %+v", e)
	case <-time.After(100 * time.Millisecond):
	}
	resumed := make(chan struct{})
	task := r.l.NewTask(func(*loop.Task, any, loop.State) bool { c.ResumeRead(); close(resumed); return false }, nil, c.Thread().Bit())
	r.l.Wakeup(task, loop.WokenMsg)
	<-resumed
	assert.Equal(t, "held", rec.next(t, "data").data)
	nc.Close()
	r.softStop(t)
}

// TestDeadline: SetDeadline closes the connection at its date even while
// data keeps arriving; cleared, it closes nothing.
func TestDeadline(t *testing.T) {
	checkFDs(t)
	rec := newRecorder()
	rec.open = func(c *Conn) {
		c.SetDeadline(time.Hour)
		c.SetDeadline(0) // cleared: the hour never matters
		c.SetDeadline(150 * time.Millisecond)
	}
	rec.data = func(*Conn, []byte) {}
	r, ln := listenRec(t, 1, rec, Options{IdleTimeout: time.Minute})
	c := dialTest(t, ln)
	start := time.Now()
	stop := time.After(3 * time.Second)
	closed := make(chan event, 1)
	go func() { closed <- rec.next(t, "close") }()
	var e event
wait:
	for {
		select {
		case e = <-closed:
			break wait
		case <-stop:
			t.Fatal("deadline never fired")
		case <-time.After(20 * time.Millisecond):
			c.Write([]byte("."))
		}
	}
	assert.ErrorIs(t, e.err, ErrDeadline)
	assert.GreaterOrEqual(t, time.Since(start), 140*time.Millisecond)
	r.softStop(t)
}

// TestAsyncWriteRacesClose loops the window between a goroutine's
// AsyncWrite and the connection closing on its thread, 2000 times: every
// write returns nil until the close and ErrClosed after it, the handler
// sees one OnClose, and the peer gets exactly the messages whose
// AsyncWrite returned nil: a close writes out what was queued before it,
// and nothing accepted is dropped.
func TestAsyncWriteRacesClose(t *testing.T) {
	checkFDs(t)
	rec := newRecorder()
	conns := make(chan *Conn, 1)
	rec.open = func(c *Conn) { conns <- c }
	rec.data = func(c *Conn, p []byte) { c.Close() }
	r, ln := listenRec(t, 2, rec, Options{})
	msg := []byte("0123456789abcdef")
	const rounds = 2000
	for i := range rounds {
		nc := dialTest(t, ln)
		c := <-conns
		rec.next(t, "open")
		writerDone := make(chan error, 1)
		accepted := 0
		go func() {
			for range 1_000_000 {
				if err := c.AsyncWrite(msg); err != nil {
					writerDone <- err
					return
				}
				accepted++
			}
			writerDone <- errors.New("AsyncWrite never saw the close")
		}()
		_, err := nc.Write([]byte("x")) // the server closes on this
		require.NoError(t, err)
		require.ErrorIs(t, <-writerDone, ErrClosed, "round %d", i)
		assert.NoError(t, rec.next(t, "close").err)
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(nc)
		require.NoError(t, err, "round %d", i)
		require.Equal(t, accepted*len(msg), len(got), "round %d: accepted messages lost", i)
		nc.Close()
		select {
		case e := <-rec.ev:
			t.Fatalf("round %d: extra event %+v", i, e)
		default:
		}
	}
	r.softStop(t)
}

package main

import (
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/evpoll/evpoll/examples/internal/proctest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var binary string

func TestMain(m *testing.M) { proctest.Main(m, "proxy", &binary) }

// volume is pushed each way, as the issue asks; a few seconds per backend.
const volume = 64 << 20

// randomReader yields n pseudo-random bytes.
func randomReader(seed uint64, n int64) io.Reader {
	rng := rand.NewChaCha8([32]byte{byte(seed)})
	return io.LimitReader(rng, n)
}

// push writes volume random bytes on c, half-closes it and returns their
// sha256.
func push(c *net.TCPConn, seed uint64) ([32]byte, error) {
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(c, h), randomReader(seed, volume)); err != nil {
		return [32]byte{}, err
	}
	return [32]byte(h.Sum(nil)), c.CloseWrite()
}

// drain reads c to EOF, slowly if slow, and returns the sha256 and count.
func drain(c net.Conn, slow bool) ([32]byte, int64, error) {
	h := sha256.New()
	buf := make([]byte, 32<<10)
	var n int64
	for {
		k, err := c.Read(buf)
		h.Write(buf[:k])
		n += int64(k)
		if errors.Is(err, io.EOF) {
			return [32]byte(h.Sum(nil)), n, nil
		}
		if err != nil {
			return [32]byte{}, n, err
		}
		if slow {
			time.Sleep(200 * time.Microsecond)
		}
	}
}

// goBackend accepts connection and hands it over.
func goBackend(t *testing.T) (net.Listener, chan *net.TCPConn) {
	t.Helper()
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { nl.Close() })
	conns := make(chan *net.TCPConn, 4)
	go func() {
		for {
			c, err := nl.Accept()
			if err != nil {
				return
			}
			conns <- c.(*net.TCPConn)
		}
	}()
	return nl, conns
}

type result struct {
	sum [32]byte
	n   int64
	err error
}

// Both directions at once, each half-closed when done, the client reading
// slowly: every byte arrives intact both ways, and each side sees the
// other's FIN while its own direction was still flowing.
func TestBothWaysWithHalfClose(t *testing.T) {
	for _, name := range proctest.Backends(t) {
		t.Run("poller="+name, func(t *testing.T) {
			nl, conns := goBackend(t)
			p := proctest.Start(t, binary, "-to", nl.Addr().String(), "-threads", "2", "-poller", name)
			nc, err := net.Dial("tcp", p.Addr)
			require.NoError(t, err)
			c := nc.(*net.TCPConn)
			defer c.Close()
			var b *net.TCPConn
			select {
			case b = <-conns:
			case <-time.After(5 * time.Second):
				t.Fatal("the proxy did not connect to the backend")
			}
			defer b.Close()
			deadline := time.Now().Add(60 * time.Second)
			c.SetDeadline(deadline)
			b.SetDeadline(deadline)

			up, down := make(chan result, 1), make(chan result, 1)
			sentUp, sentDown := make(chan result, 1), make(chan result, 1)
			go func() { s, err := push(c, 1); sentUp <- result{sum: s, err: err} }()
			go func() { s, err := push(b, 2); sentDown <- result{sum: s, err: err} }()
			go func() { s, n, err := drain(b, false); up <- result{s, n, err} }()
			go func() { s, n, err := drain(c, true); down <- result{s, n, err} }()
			for _, pair := range [][2]chan result{{sentUp, up}, {sentDown, down}} {
				sent, got := <-pair[0], <-pair[1]
				require.NoError(t, sent.err)
				require.NoError(t, got.err)
				assert.Equal(t, int64(volume), got.n)
				assert.Equal(t, sent.sum, got.sum, "sha256 of what went through")
			}
			c.Close()
			b.Close()
			p.RequireFDs(t, 0) // both sides of the proxied connection closed
		})
	}
}

// With the client not reading, the backend's writes stall after a
// bounded amount: the proxy stops reading the backend instead of
// buffering everything.
func TestBackPressure(t *testing.T) {
	nl, conns := goBackend(t)
	p := proctest.Start(t, binary, "-to", nl.Addr().String())
	c, err := net.Dial("tcp", p.Addr)
	require.NoError(t, err)
	defer c.Close()
	b := <-conns
	defer b.Close()
	const total = 128 << 20
	var written int64
	buf := make([]byte, 64<<10)
	for written < total {
		b.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := b.Write(buf)
		written += int64(n)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		require.NoError(t, err)
	}
	// Kernel socket buffers on two hops hold a few tens of MiB at most;
	// the proxy adds its -buffer.
	t.Logf("backend wrote %d MiB before stalling", written>>20)
	assert.Less(t, written, int64(32<<20), "the backend was never stopped")
	// The client now reads everything that was written.
	b.CloseWrite()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.Copy(io.Discard, c)
	require.NoError(t, err)
	assert.Equal(t, written, got)
}

// A reset from either side resets the other.
func TestResetPropagates(t *testing.T) {
	for _, side := range []string{"client", "backend"} {
		t.Run("from="+side, func(t *testing.T) {
			nl, conns := goBackend(t)
			p := proctest.Start(t, binary, "-to", nl.Addr().String())
			nc, err := net.Dial("tcp", p.Addr)
			require.NoError(t, err)
			c := nc.(*net.TCPConn)
			defer c.Close()
			b := <-conns
			defer b.Close()
			// Data through first, so that both legs are established.
			_, err = c.Write([]byte("ping"))
			require.NoError(t, err)
			got := make([]byte, 4)
			b.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = io.ReadFull(b, got)
			require.NoError(t, err)
			resetter, other := c, b
			if side == "backend" {
				resetter, other = b, c
			}
			require.NoError(t, resetter.SetLinger(0))
			require.NoError(t, resetter.Close())
			other.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = other.Read(make([]byte, 1))
			assert.ErrorIs(t, err, syscall.ECONNRESET)
		})
	}
}

// A backend that refuses resets the client.
func TestBackendRefused(t *testing.T) {
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	to := nl.Addr().String()
	nl.Close()
	p := proctest.Start(t, binary, "-to", to)
	c, err := net.Dial("tcp", p.Addr)
	if err == nil {
		// The reset may also come before the client's connect returns.
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 1))
	}
	assert.ErrorIs(t, err, syscall.ECONNRESET)
}

func TestBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		flag string
	}{
		{nil, "-to"},
		{[]string{"-to", "nohostport"}, "-to"},
		{[]string{"-to", "127.0.0.1:1", "-buffer", "0"}, "-buffer"},
		{[]string{"-to", "127.0.0.1:1", "-connect-timeout", "0s"}, "-connect-timeout"},
	} {
		proctest.BadFlag(t, binary, c.args, c.flag)
	}
}

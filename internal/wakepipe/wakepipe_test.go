//go:build unix

package wakepipe

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// buffered returns how many bytes wait in the pipe.
func buffered(t *testing.T, p *Pipe) int {
	var buf [64]byte
	n, err := unix.Read(p.R(), buf[:])
	if err == unix.EAGAIN {
		return 0
	}
	require.NoError(t, err)
	return n
}

func TestWakesCoalesceUntilDrained(t *testing.T) {
	p := Closed()
	require.NoError(t, p.Open())
	defer p.Close()
	for i := 0; i < 3; i++ {
		require.NoError(t, p.Wake())
	}
	p.Drain()
	assert.Zero(t, buffered(t, &p), "drained")
	require.NoError(t, p.Wake())
	require.NoError(t, p.Wake())
	assert.Equal(t, 1, buffered(t, &p), "one byte per drain cycle")
	p.Drain()
	require.NoError(t, p.Wake())
	assert.Equal(t, 1, buffered(t, &p), "a wake after a drain writes again")
}

func TestCloseIdempotent(t *testing.T) {
	p := Closed()
	require.NoError(t, p.Open())
	r := p.R()
	p.Close()
	p.Close()
	assert.Equal(t, -1, p.R())
	_, err := unix.FcntlInt(uintptr(r), unix.F_GETFD, 0)
	assert.Error(t, err, "read end closed")
}

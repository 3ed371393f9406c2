package loop

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestTakeoverCounts: a successful takeover moves the fd and counts
// fd_takeover on the new owner; a failed one (stale generation) counts
// nothing.
func TestTakeoverCounts(t *testing.T) {
	l := newTestLoop(t, Config{Threads: 2})
	p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	require.NoError(t, err)
	defer unix.Close(p[1])
	t0, t1 := l.Threads()[0], l.Threads()[1]
	require.NoError(t, t0.FD().Insert(p[0], nil, func(int, any) {}, t0.Bit()))
	defer t1.FD().Delete(p[0])
	gen := l.Table().Info(p[0]).Gen
	assert.Error(t, t1.Takeover(p[0], gen+1), "stale generation")
	assert.Zero(t, t1.Activity().FDTakeover.Load())
	require.NoError(t, t1.Takeover(p[0], gen))
	assert.Equal(t, t1.Bit(), l.Table().Info(p[0]).Threads, "thread mask")
	assert.Equal(t, uint32(1), t1.Activity().FDTakeover.Load(), "fd_takeover")
}

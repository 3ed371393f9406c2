//go:build unix

package pollable

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestCheck(t *testing.T) {
	f, err := os.Open(os.Args[0])
	require.NoError(t, err)
	defer f.Close()
	d, err := os.Open(t.TempDir())
	require.NoError(t, err)
	defer d.Close()
	p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	require.NoError(t, err)
	defer unix.Close(p[0])
	defer unix.Close(p[1])

	var c Checker
	err = c.Check("poll", int(f.Fd()), 1)
	assert.ErrorIs(t, err, unix.EPERM, "regular file")
	assert.Contains(t, err.Error(), "poll: register fd")
	assert.ErrorIs(t, c.Check("select", int(d.Fd()), 1), unix.EPERM, "directory")
	assert.NoError(t, c.Check("poll", p[0], 7), "socket")
	// Cached per generation: the same number with the same generation is
	// not inspected again, a new generation is.
	unix.Dup2(int(f.Fd()), p[0])
	assert.NoError(t, c.Check("poll", p[0], 7), "same generation")
	assert.ErrorIs(t, c.Check("poll", p[0], 8), unix.EPERM, "new generation")
}

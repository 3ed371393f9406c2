package construct

import (
	"errors"
	"syscall"
	"testing"

	"github.com/evpoll/evpoll/poller"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type wrapper struct{ *fake }

func TestWrappedWrapsOnlySuccess(t *testing.T) {
	boom := errors.New("boom")
	wrapped := 0
	wrap := func(f *fake) poller.Poller { wrapped++; return wrapper{f} }
	p, err := Wrapped(func(*poller.Context) (*fake, error) { return nil, boom }, wrap)(nil)
	assert.ErrorIs(t, err, boom)
	assert.True(t, p == nil, "an error must come with a nil interface, got %#v", p)
	assert.Zero(t, wrapped, "wrap called after a failed constructor")

	p, err = Wrapped(func(*poller.Context) (*fake, error) { return &fake{}, nil }, wrap)(nil)
	require.NoError(t, err)
	assert.IsType(t, wrapper{}, p)
	assert.Equal(t, 1, wrapped)
}

type closer struct{ closed *int }

func (c closer) Close() error { *c.closed++; return nil }

func TestOpenCloseClosesAndNamesTheSyscall(t *testing.T) {
	closed := 0
	test := OpenClose("kqueue", func() (closer, error) { return closer{&closed}, nil })
	require.NoError(t, test(nil))
	assert.Equal(t, 1, closed)

	test = OpenClose("kqueue", func() (closer, error) { return closer{}, syscall.EMFILE })
	err := test(nil)
	assert.ErrorIs(t, err, syscall.EMFILE)
	assert.Contains(t, err.Error(), "kqueue")
}

package construct

import (
	"errors"
	"testing"

	"github.com/evpoll/evpoll/poller"
	"github.com/stretchr/testify/assert"
)

type fake struct{ poller.Poller }

func TestNewReturnsNilInterfaceOnError(t *testing.T) {
	boom := errors.New("boom")
	f := New(func(*poller.Context) (*fake, error) { return nil, boom })
	p, err := f(nil)
	assert.ErrorIs(t, err, boom)
	assert.True(t, p == nil, "an error must come with a nil interface, got %#v", p)

	ok := New(func(*poller.Context) (*fake, error) { return &fake{}, nil })
	p, err = ok(nil)
	assert.NoError(t, err)
	assert.NotNil(t, p)
}

//go:build solaris || linux

package evports

import (
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/stretchr/testify/assert"
)

const (
	aR = fdtable.ActiveR
	aW = fdtable.ActiveW
)

// TestResync covers the evports _update_fd rows.
func TestResync(t *testing.T) {
	for _, tc := range []struct {
		name         string
		st           fdtable.State
		ours         bool
		pollR, pollS bool
		op           Op
		recv, send   bool
	}{
		{"want recv, not polled: associate", aR, true, false, false, OpAssociate, true, false},
		{"want both, polled recv: associate both", aR | aW, true, true, false, OpAssociate, true, true},
		{"want send, polled both: associate send", aW, true, true, true, OpAssociate, false, true},
		{"unchanged: nothing (the association is live)", aR, true, true, false, OpNone, true, false},
		{"wanted nowhere, polled: dissociate", fdtable.ReadyR, true, true, false, OpDissociate, false, false},
		{"not ours, polled: dissociate", aR, false, false, true, OpDissociate, false, false},
		{"not ours, not polled: nothing", aR, false, false, false, OpNone, false, false},
		{"wanted nowhere, not polled: nothing", 0, true, false, false, OpNone, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op, recv, send := Resync(tc.st, tc.ours, tc.pollR, tc.pollS)
			assert.Equal(t, tc.op, op, "op")
			assert.Equal(t, tc.recv, recv, "recv")
			assert.Equal(t, tc.send, send, "send")
		})
	}
}

func TestEventMask(t *testing.T) {
	assert.Equal(t, PollIn, EventMask(true, false))
	assert.Equal(t, PollOut, EventMask(false, true))
	assert.Equal(t, PollIn|PollOut, EventMask(true, true))
	assert.Zero(t, EventMask(false, false))
}

// TestTranslate covers the evports column of the native-event
// translation.
func TestTranslate(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   int16
		want fdtable.State
	}{
		{"POLLIN", PollIn, fdtable.ReadyR},
		{"POLLOUT", PollOut, fdtable.ReadyW},
		{"POLLHUP: both shut", PollHup, fdtable.ShutR | fdtable.ShutW},
		{"POLLERR: error", PollErr, fdtable.ErrRW},
		{"POLLNVAL: error", PollNval, fdtable.ErrRW},
		{"POLLIN|POLLHUP", PollIn | PollHup, fdtable.ReadyR | fdtable.ShutR | fdtable.ShutW},
		{"nothing", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, Translate(tc.ev)) })
	}
}

// TestRearm: after its event, the fd is re-associated with the
// pre-callback directions unless the callback closed it, it migrated, or
// it wants nothing any more.
func TestRearm(t *testing.T) {
	for _, tc := range []struct {
		name       string
		pre        fdtable.State
		after      After
		rearm      bool
		recv, send bool
	}{
		{"still wanted: pre-callback mask", aR, After{State: aR}, true, true, false},
		{"callback switched to send: pre-callback mask, the update list fixes it", aR, After{State: aW}, true, true, false},
		{"callback added send: pre-callback mask", aR, After{State: aR | aW}, true, true, false},
		{"both before", aR | aW, After{State: aR}, true, true, true},
		{"callback closed the fd", aR, After{Closed: true}, false, false, false},
		{"migrated", aR, After{Migrated: true, State: aR}, false, false, false},
		{"interest dropped in the callback", aR, After{State: fdtable.ReadyR}, false, false, false},
		{"nothing wanted before (lazy stop)", fdtable.ReadyR, After{State: aR}, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rearm, recv, send := Rearm(tc.pre, tc.after)
			assert.Equal(t, tc.rearm, rearm, "rearm")
			assert.Equal(t, tc.recv, recv, "recv")
			assert.Equal(t, tc.send, send, "send")
		})
	}
}

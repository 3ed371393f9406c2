//go:build darwin || freebsd || netbsd || openbsd || dragonfly || linux

package kqueue

import (
	"math"
	"syscall"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
)

const (
	aR  = fdtable.ActiveR
	aW  = fdtable.ActiveW
	rdR = fdtable.ReadyR
)

func add(f Filter) Kevent { return Kevent{Ident: 7, Filter: f, Flags: EvAdd, Udata: 3} }
func del(f Filter) Kevent { return Kevent{Ident: 7, Filter: f, Flags: EvDelete} }

// TestChanges covers the kqueue _update_fd rows: EV_ADD/EV_DELETE per
// filter, only where wanted and polled differ.
func TestChanges(t *testing.T) {
	for _, tc := range []struct {
		name         string
		st           fdtable.State
		ours         bool
		pollR, pollS bool
		want         []Kevent
		recv, send   bool
	}{
		{"want recv, not polled: add read", aR | rdR, true, false, false, []Kevent{add(FilterRead)}, true, false},
		{"want send, not polled: add write only (no sticky read)", aW, true, false, false, []Kevent{add(FilterWrite)}, false, true},
		{"want both, not polled: add both", aR | aW, true, false, false, []Kevent{add(FilterRead), add(FilterWrite)}, true, true},
		{"want both, polled read: add write", aR | aW, true, true, false, []Kevent{add(FilterWrite)}, true, true},
		{"want send, polled both: delete read", aW, true, true, true, []Kevent{del(FilterRead)}, false, true},
		{"unchanged: nothing", aR, true, true, false, nil, true, false},
		{"wanted nowhere, polled both: delete both", rdR, true, true, true, []Kevent{del(FilterRead), del(FilterWrite)}, false, false},
		{"wanted nowhere, polled read: delete read only", 0, true, true, false, []Kevent{del(FilterRead)}, false, false},
		{"not ours, polled: delete what is polled", aR | aW, false, true, true, []Kevent{del(FilterRead), del(FilterWrite)}, false, false},
		{"not ours, not polled: nothing", aR, false, false, false, nil, false, false},
		{"wanted nowhere, not polled: nothing", rdR, true, false, false, nil, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, recv, send := Changes(nil, 7, 3, tc.st, tc.ours, tc.pollR, tc.pollS)
			assert.Empty(t, cmp.Diff(tc.want, got), "changes")
			assert.Equal(t, tc.recv, recv, "recv")
			assert.Equal(t, tc.send, send, "send")
		})
	}
}

// TestTranslate covers the kqueue column of the native-event translation
// and the EV_EOF rows: data before a shutdown is readable, EOF alone is
// only the shutdown, EOF on the write side is an error.
func TestTranslate(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   Kevent
		want fdtable.State
	}{
		{"read with data", Kevent{Filter: FilterRead, Data: 5}, fdtable.ReadyR},
		{"read without data or EOF (listener, UDP error)", Kevent{Filter: FilterRead}, fdtable.ReadyR},
		{"read EOF, no data: shutdown only", Kevent{Filter: FilterRead, Flags: EvEOF}, fdtable.ShutR},
		{"read EOF with data: both", Kevent{Filter: FilterRead, Flags: EvEOF, Data: 3}, fdtable.ReadyR | fdtable.ShutR},
		{"write", Kevent{Filter: FilterWrite, Data: 4096}, fdtable.ReadyW},
		{"write EOF: writable and error", Kevent{Filter: FilterWrite, Flags: EvEOF}, fdtable.ReadyW | fdtable.ErrRW},
		{"user filter: no fd event", Kevent{Filter: FilterUser}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Translate(&tc.ev))
		})
	}
}

func TestChangeResult(t *testing.T) {
	r, w := add(FilterRead), add(FilterWrite)
	dr := del(FilterRead)
	for _, tc := range []struct {
		name  string
		ch    Kevent
		errno syscall.Errno
		want  Outcome
	}{
		{"add succeeded", r, 0, Outcome{Registered: true}},
		{"delete succeeded", dr, 0, Outcome{}},
		{"delete of an absent filter (closed fd): done", dr, syscall.ENOENT, Outcome{}},
		{"delete on a closed fd: done", dr, syscall.EBADF, Outcome{}},
		{"delete refused otherwise: reported", dr, syscall.ENOMEM, Outcome{Failed: true}},
		{"add read EPIPE (macOS, peer gone): registered, shutdown delivered", r, syscall.EPIPE, Outcome{Registered: true, Events: fdtable.ShutR}},
		{"add write EPIPE (macOS, peer gone): registered, error delivered", w, syscall.EPIPE, Outcome{Registered: true, Events: fdtable.ReadyW | fdtable.ErrRW}},
		{"add on a closed fd: refused", r, syscall.EBADF, Outcome{Failed: true}},
		{"add without memory: refused", w, syscall.ENOMEM, Outcome{Failed: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, ChangeResult(&tc.ch, tc.errno))
		})
	}
}

func TestDeletes(t *testing.T) {
	assert.Empty(t, cmp.Diff([]Kevent{del(FilterRead), del(FilterWrite)}, Deletes(nil, 7, true, true)))
	assert.Empty(t, cmp.Diff([]Kevent{del(FilterWrite)}, Deletes(nil, 7, false, true)))
	assert.Empty(t, Deletes(nil, 7, false, false))
}

// TestTimeout: kevent's timeout never exceeds what darwin accepts.
func TestTimeout(t *testing.T) {
	for _, tc := range []struct {
		ms   int
		want time.Duration
	}{
		{-1, -1},
		{0, 0},
		{1, time.Millisecond},
		{1000, time.Second},
		{int(MaxTimeout / time.Millisecond), MaxTimeout},
		{math.MaxInt, MaxTimeout},
	} {
		assert.Equal(t, tc.want, Timeout(tc.ms), "Timeout(%d)", tc.ms)
	}
	assert.Less(t, MaxTimeout, 100000000*time.Second, "darwin refuses 10^8 s")
}

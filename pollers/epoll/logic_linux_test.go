package epoll

import (
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

const (
	add = unix.EPOLL_CTL_ADD
	mod = unix.EPOLL_CTL_MOD
	del = unix.EPOLL_CTL_DEL
)

// TestDesired pins the _update_fd rules of reference §6.2 and §15 D.
func TestDesired(t *testing.T) {
	type out struct {
		Op         int
		Recv, Send bool
	}
	const (
		aR, rR, aW, rW = fdtable.ActiveR, fdtable.ReadyR, fdtable.ActiveW, fdtable.ReadyW
	)
	for _, tc := range []struct {
		name         string
		st           fdtable.State
		ours         bool
		pollR, pollS bool
		want         out
	}{
		{"D29 want recv, ready: add IN", aR | rR | rW, true, false, false, out{add, true, false}},
		{"D30 want send on fresh fd: add OUT only", aW | rR | rW, true, false, false, out{add, false, true}},
		{"D31 sticky read: ACTIVE_W without READY_R adds IN too", aW | rW, true, false, false, out{add, true, true}},
		{"D32 desired equals polled: nothing", aR, true, true, false, out{0, true, false}},
		{"D33 polled for read, now also send: mod", aR | aW | rW, true, true, false, out{mod, true, true}},
		{"D34 polled, no ACTIVE, READY_R: del", rR | rW, true, true, false, out{del, false, false}},
		{"D34 polled, no ACTIVE, not READY_R: sticky keeps IN", rW, true, true, false, out{0, true, false}},
		{"D35 polled but migrated away: del", aR | rR, false, true, false, out{del, false, false}},
		{"not ours, not polled: nothing", aR, false, false, false, out{0, false, false}},
		{"nothing wanted, not polled: nothing", rR | rW, true, false, false, out{0, false, false}},
		{"polled for send, stop send, READY_R clear: keeps IN, drops OUT", rW, true, false, true, out{mod, true, false}},
		{"polled for send, stop send, READY_R set: del", rR | rW, true, false, true, out{del, false, false}},
		{"polled both, stop recv only, READY_R clear: sticky keeps both", aW, true, true, true, out{0, true, true}},
		{"polled both, stop recv only, READY_R set: mod to OUT", aW | rR, true, true, true, out{mod, false, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op, r, s := desired(tc.st, tc.ours, tc.pollR, tc.pollS)
			if d := cmp.Diff(tc.want, out{op, r, s}); d != "" {
				t.Errorf("desired(%v, ours=%v, polled=%v/%v) (-want +got):\n%s", tc.st, tc.ours, tc.pollR, tc.pollS, d)
			}
		})
	}
}

func TestEventMask(t *testing.T) {
	for _, tc := range []struct {
		r, s bool
		want uint32
	}{
		{false, false, 0},
		{true, false, unix.EPOLLIN | unix.EPOLLRDHUP},
		{false, true, unix.EPOLLOUT},
		{true, true, unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLOUT},
	} {
		if got := eventMask(tc.r, tc.s); got != tc.want {
			t.Errorf("eventMask(%v, %v) = %#x, want %#x", tc.r, tc.s, got, tc.want)
		}
	}
}

// TestTranslate pins reference §6.7's epoll column.
func TestTranslate(t *testing.T) {
	for _, tc := range []struct {
		ev   uint32
		want fdtable.State
	}{
		{0, 0},
		{unix.EPOLLIN, fdtable.ReadyR},
		{unix.EPOLLOUT, fdtable.ReadyW},
		{unix.EPOLLRDHUP, fdtable.ShutR},
		{unix.EPOLLHUP, fdtable.ShutR | fdtable.ShutW},
		{unix.EPOLLERR, fdtable.ErrRW},
		{unix.EPOLLIN | unix.EPOLLRDHUP, fdtable.ReadyR | fdtable.ShutR},
		{unix.EPOLLERR | unix.EPOLLHUP | unix.EPOLLOUT, fdtable.ErrRW | fdtable.ShutR | fdtable.ShutW | fdtable.ReadyW},
		{unix.EPOLLPRI, 0},
	} {
		if got := translate(tc.ev); got != tc.want {
			t.Errorf("translate(%#x) = %v, want %v", tc.ev, got, tc.want)
		}
	}
}

func TestParseFdinfo(t *testing.T) {
	in := []byte("pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\n" +
		"tfd:        5 events:       19 data:        100000005  pos:0 ino:6f4 sdev:8\n" +
		"tfd:        9 events:        4 data:        200000009  pos:0 ino:6f5 sdev:8\n")
	got, err := parseFdinfo(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []poller.Registration{{FD: 5, Recv: true, Gen: 1}, {FD: 9, Send: true, Gen: 2}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("parseFdinfo (-want +got):\n%s", d)
	}
	if _, err := parseFdinfo([]byte("tfd: x events: 19 data: 5 pos:0\n")); err == nil {
		t.Errorf("parseFdinfo accepted a malformed line")
	}
}

//go:build unix

package poll

import (
	"math/rand/v2"
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/internal/userset"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

const (
	rd = unix.POLLIN | pollRDHUP
	wr = unix.POLLOUT
)

func TestTranslate(t *testing.T) {
	type tcase struct {
		name    string
		revents int16
		want    fdtable.State
	}
	tests := []tcase{
		{"none", 0, 0},
		{"in", unix.POLLIN, fdtable.ReadyR},
		{"out", unix.POLLOUT, fdtable.ReadyW},
		{"in out", unix.POLLIN | unix.POLLOUT, fdtable.ReadyR | fdtable.ReadyW},
		{"hup", unix.POLLHUP, fdtable.ShutR | fdtable.ShutW},
		{"err", unix.POLLERR, fdtable.ErrRW},
		{"nval", unix.POLLNVAL, fdtable.ErrRW},
		{"out err hup", unix.POLLOUT | unix.POLLERR | unix.POLLHUP, fdtable.ReadyW | fdtable.ErrRW | fdtable.ShutR | fdtable.ShutW},
		{"pri ignored", unix.POLLPRI, 0},
	}
	if pollRDHUP != 0 {
		tests = append(tests,
			tcase{"in rdhup", unix.POLLIN | pollRDHUP, fdtable.ReadyR | fdtable.ShutR},
			tcase{"in rdhup hup", unix.POLLIN | pollRDHUP | unix.POLLHUP, fdtable.ReadyR | fdtable.ShutR | fdtable.ShutW},
		)
	}
	for _, tt := range tests {
		if got := translate(tt.revents); got != tt.want {
			t.Errorf("%s: translate(%#x) = %v, want %v", tt.name, tt.revents, got, tt.want)
		}
	}
}

func TestEventMask(t *testing.T) {
	tests := []struct {
		st         fdtable.State
		ours       bool
		recv, send bool
		mask       int16
	}{
		{0, true, false, false, 0},
		{fdtable.ReadyR | fdtable.ReadyW, true, false, false, 0},
		{fdtable.ActiveR, true, true, false, rd},
		{fdtable.ActiveR | fdtable.ReadyR, true, true, false, rd},
		// No sticky-read rule in poll: want send alone polls for sending.
		{fdtable.ActiveW, true, false, true, wr},
		{fdtable.ActiveRW, true, true, true, rd | wr},
		{fdtable.ActiveRW, false, false, false, 0},
	}
	for _, tt := range tests {
		r, s := userset.Desired(tt.st, tt.ours)
		if r != tt.recv || s != tt.send {
			t.Errorf("Desired(%v, ours %v) = %v, %v; want %v, %v", tt.st, tt.ours, r, s, tt.recv, tt.send)
		}
		if m := eventMask(r, s); m != tt.mask {
			t.Errorf("eventMask(%v, %v) = %#x, want %#x", r, s, m, tt.mask)
		}
	}
}

// entry is an fdArray registration as the tests compare them.
type entry struct {
	Events int16
	Gen    uint32
}

// contents returns a's registrations after checking its invariants.
func contents(t *testing.T, a *fdArray) map[int]entry {
	t.Helper()
	if len(a.pfds) != len(a.gens) {
		t.Fatalf("len(pfds) %d != len(gens) %d", len(a.pfds), len(a.gens))
	}
	got := map[int]entry{}
	for i, pf := range a.pfds {
		fd := int(pf.Fd)
		if _, dup := got[fd]; dup {
			t.Fatalf("fd %d listed twice", fd)
		}
		if pf.Events == 0 {
			t.Fatalf("fd %d registered for no event", fd)
		}
		if a.index(fd) != i {
			t.Fatalf("slot of fd %d = %d, want %d", fd, a.index(fd), i)
		}
		got[fd] = entry{pf.Events, a.gens[i]}
	}
	for fd, s := range a.slot {
		if s != 0 {
			if _, ok := got[fd]; !ok {
				t.Fatalf("slot of unregistered fd %d = %d", fd, s)
			}
		}
	}
	return got
}

func TestFdArray(t *testing.T) {
	type op struct {
		kind    string // set, remove, removeGen
		fd      int
		events  int16
		gen     uint32
		changed bool
	}
	tests := []struct {
		name string
		ops  []op
		want map[int]entry
	}{
		{"add", []op{{"set", 5, rd, 1, true}}, map[int]entry{5: {rd, 1}}},
		{"same again is no change", []op{{"set", 5, rd, 1, true}, {"set", 5, rd, 1, false}}, map[int]entry{5: {rd, 1}}},
		{"modify", []op{{"set", 5, rd, 1, true}, {"set", 5, rd | wr, 1, true}}, map[int]entry{5: {rd | wr, 1}}},
		{"new generation, same events", []op{{"set", 5, rd, 1, true}, {"set", 5, rd, 2, false}}, map[int]entry{5: {rd, 2}}},
		{"remove", []op{{"set", 5, rd, 1, true}, {"remove", 5, 0, 0, true}}, map[int]entry{}},
		{"remove absent", []op{{"remove", 5, 0, 0, false}, {"remove", -1, 0, 0, false}, {"remove", 1 << 20, 0, 0, false}}, map[int]entry{}},
		{"remove middle swaps last", []op{
			{"set", 3, rd, 1, true}, {"set", 9, wr, 1, true}, {"set", 700, rd, 4, true},
			{"remove", 3, 0, 0, true},
		}, map[int]entry{9: {wr, 1}, 700: {rd, 4}}},
		{"remove last", []op{{"set", 3, rd, 1, true}, {"set", 9, wr, 1, true}, {"remove", 9, 0, 0, true}}, map[int]entry{3: {rd, 1}}},
		{"removeGen matching", []op{{"set", 3, rd, 7, true}, {"removeGen", 3, 0, 7, true}}, map[int]entry{}},
		{"removeGen stale keeps the new registration", []op{{"set", 3, rd, 8, true}, {"removeGen", 3, 0, 7, false}}, map[int]entry{3: {rd, 8}}},
		{"re-add after remove", []op{{"set", 3, rd, 1, true}, {"remove", 3, 0, 0, true}, {"set", 3, wr, 2, true}}, map[int]entry{3: {wr, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a fdArray
			for i, o := range tt.ops {
				var changed bool
				switch o.kind {
				case "set":
					changed = a.set(o.fd, o.events, o.gen)
				case "remove":
					changed = a.remove(o.fd)
				case "removeGen":
					changed = a.removeGen(o.fd, o.gen)
				}
				if changed != o.changed {
					t.Errorf("op %d %s(%d): changed = %v, want %v", i, o.kind, o.fd, changed, o.changed)
				}
				contents(t, &a)
			}
			if d := cmp.Diff(tt.want, contents(t, &a)); d != "" {
				t.Errorf("contents (-want +got):\n%s", d)
			}
			if a.len() != len(tt.want) {
				t.Errorf("len = %d, want %d", a.len(), len(tt.want))
			}
		})
	}
}

// TestFdArrayModel checks fdArray against a map under random operations.
func TestFdArrayModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var a fdArray
	model := map[int]entry{}
	masks := []int16{rd, wr, rd | wr}
	for i := 0; i < 20000; i++ {
		fd := r.IntN(300)
		switch r.IntN(3) {
		case 0, 1:
			e := entry{masks[r.IntN(3)], uint32(r.IntN(3))}
			old, had := model[fd]
			if got, want := a.set(fd, e.Events, e.Gen), !had || old.Events != e.Events; got != want {
				t.Fatalf("op %d: set(%d) changed = %v, want %v", i, fd, got, want)
			}
			model[fd] = e
		case 2:
			_, had := model[fd]
			if got := a.remove(fd); got != had {
				t.Fatalf("op %d: remove(%d) = %v, want %v", i, fd, got, had)
			}
			delete(model, fd)
		}
		if i%97 == 0 {
			if d := cmp.Diff(model, contents(t, &a)); d != "" {
				t.Fatalf("op %d: contents (-model +array):\n%s", i, d)
			}
		}
	}
	if d := cmp.Diff(model, contents(t, &a)); d != "" {
		t.Fatalf("contents (-model +array):\n%s", d)
	}
	a.reset()
	if a.len() != 0 || a.index(5) != -1 {
		t.Errorf("reset left %d entries", a.len())
	}
}

//go:build unix

package selectpoll

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestSetSize(t *testing.T) {
	// The computed size is the system's FD_SETSIZE.
	var s unix.FdSet
	s.Set(SetSize - 1)
	if !s.IsSet(SetSize - 1) {
		t.Fatalf("fd %d not settable in an fd_set", SetSize-1)
	}
	if got := wordBits * len(s.Bits); got != SetSize {
		t.Errorf("SetSize = %d, fd_set holds %d", SetSize, got)
	}
}

func TestTranslate(t *testing.T) {
	tests := []struct {
		r, w bool
		want fdtable.State
	}{
		{false, false, 0},
		{true, false, fdtable.ReadyR},
		{false, true, fdtable.ReadyW},
		{true, true, fdtable.ReadyR | fdtable.ReadyW},
	}
	for _, tt := range tests {
		if got := translate(tt.r, tt.w); got != tt.want {
			t.Errorf("translate(%v, %v) = %v, want %v", tt.r, tt.w, got, tt.want)
		}
	}
}

// reg is an fdSets registration as the tests compare them.
type reg struct {
	R, W bool
	Gen  uint32
}

// contents returns s's registrations after checking its invariants
// (counts, maxfd is the highest fd plus one, nothing set at or above it).
func contents(t *testing.T, s *fdSets) map[int]reg {
	t.Helper()
	got := map[int]reg{}
	nrd, nwr, top := 0, 0, 0
	for fd := 0; fd < SetSize; fd++ {
		r, w := s.rd.IsSet(fd), s.wr.IsSet(fd)
		if !r && !w {
			continue
		}
		if r {
			nrd++
		}
		if w {
			nwr++
		}
		top = fd + 1
		got[fd] = reg{r, w, s.gens[fd]}
	}
	if nrd != s.nrd || nwr != s.nwr {
		t.Fatalf("counts = %d, %d; sets hold %d, %d", s.nrd, s.nwr, nrd, nwr)
	}
	if top != s.maxfd {
		t.Fatalf("maxfd = %d, want %d", s.maxfd, top)
	}
	return got
}

func TestFdSets(t *testing.T) {
	type op struct {
		kind    string // set, remove, removeGen
		fd      int
		r, w    bool
		gen     uint32
		changed bool
	}
	tests := []struct {
		name  string
		ops   []op
		want  map[int]reg
		maxfd int
	}{
		{"add", []op{{"set", 5, true, false, 1, true}}, map[int]reg{5: {true, false, 1}}, 6},
		{"same again", []op{{"set", 5, true, false, 1, true}, {"set", 5, true, false, 1, false}}, map[int]reg{5: {true, false, 1}}, 6},
		{"modify", []op{{"set", 5, true, false, 1, true}, {"set", 5, false, true, 1, true}}, map[int]reg{5: {false, true, 1}}, 6},
		{"new generation", []op{{"set", 5, true, false, 1, true}, {"set", 5, true, false, 2, false}}, map[int]reg{5: {true, false, 2}}, 6},
		{"maxfd shrinks to the next fd", []op{
			{"set", 3, true, false, 1, true}, {"set", 70, false, true, 1, true}, {"set", 200, true, true, 1, true},
			{"remove", 200, false, false, 0, true},
		}, map[int]reg{3: {true, false, 1}, 70: {false, true, 1}}, 71},
		{"maxfd shrinks across words", []op{
			{"set", 0, true, false, 1, true}, {"set", 200, true, false, 1, true},
			{"remove", 200, false, false, 0, true},
		}, map[int]reg{0: {true, false, 1}}, 1},
		{"maxfd to 0", []op{{"set", 63, true, false, 1, true}, {"remove", 63, false, false, 0, true}}, map[int]reg{}, 0},
		{"removing a lower fd keeps maxfd", []op{
			{"set", 3, true, false, 1, true}, {"set", 9, true, false, 1, true}, {"remove", 3, false, false, 0, true},
		}, map[int]reg{9: {true, false, 1}}, 10},
		{"remove absent", []op{{"remove", 5, false, false, 0, false}, {"remove", -1, false, false, 0, false}, {"remove", SetSize + 5, false, false, 0, false}}, map[int]reg{}, 0},
		{"removeGen matching", []op{{"set", 3, true, false, 7, true}, {"removeGen", 3, false, false, 7, true}}, map[int]reg{}, 0},
		{"removeGen stale", []op{{"set", 3, true, false, 8, true}, {"removeGen", 3, false, false, 7, false}}, map[int]reg{3: {true, false, 8}}, 4},
		{"last fd of the set", []op{{"set", SetSize - 1, false, true, 1, true}}, map[int]reg{SetSize - 1: {false, true, 1}}, SetSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s fdSets
			for i, o := range tt.ops {
				var changed bool
				var err error
				switch o.kind {
				case "set":
					changed, err = s.set(o.fd, o.r, o.w, o.gen)
				case "remove":
					changed = s.remove(o.fd)
				case "removeGen":
					changed = s.removeGen(o.fd, o.gen)
				}
				if err != nil {
					t.Fatalf("op %d: %v", i, err)
				}
				if changed != o.changed {
					t.Errorf("op %d %s(%d): changed = %v, want %v", i, o.kind, o.fd, changed, o.changed)
				}
				contents(t, &s)
			}
			if d := cmp.Diff(tt.want, contents(t, &s)); d != "" {
				t.Errorf("contents (-want +got):\n%s", d)
			}
			if s.maxfd != tt.maxfd {
				t.Errorf("maxfd = %d, want %d", s.maxfd, tt.maxfd)
			}
		})
	}
}

// TestFdSetsRefuse: fds outside the fd_set are refused and change
// nothing; nothing is written past the fd_set.
func TestFdSetsRefuse(t *testing.T) {
	var s fdSets
	s.set(10, true, false, 1)
	before := s
	for _, fd := range []int{SetSize, SetSize + 1, 1 << 20, -1} {
		changed, err := s.set(fd, true, true, 1)
		if !errors.Is(err, ErrFDSetSize) || changed {
			t.Errorf("set(%d) = %v, %v; want false, ErrFDSetSize", fd, changed, err)
		}
	}
	if d := cmp.Diff(contents(t, &before), contents(t, &s)); d != "" || s.maxfd != 11 || len(s.gens) > SetSize {
		t.Errorf("refused sets changed the sets (maxfd %d, %d gens):\n%s", s.maxfd, len(s.gens), d)
	}
}

func TestFdSetsModel(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var s fdSets
	model := map[int]reg{}
	for i := 0; i < 20000; i++ {
		fd := r.IntN(SetSize)
		if r.IntN(4) == 0 {
			fd = r.IntN(8) // crowd the low word too
		}
		if r.IntN(3) < 2 {
			g := reg{r.IntN(2) == 0, false, uint32(r.IntN(3))}
			g.W = !g.R || r.IntN(2) == 0
			old, had := model[fd]
			changed, err := s.set(fd, g.R, g.W, g.Gen)
			if err != nil {
				t.Fatal(err)
			}
			if want := !had || old.R != g.R || old.W != g.W; changed != want {
				t.Fatalf("op %d: set(%d) changed = %v, want %v", i, fd, changed, want)
			}
			model[fd] = g
		} else {
			_, had := model[fd]
			if got := s.remove(fd); got != had {
				t.Fatalf("op %d: remove(%d) = %v, want %v", i, fd, got, had)
			}
			delete(model, fd)
		}
		if i%101 == 0 {
			if d := cmp.Diff(model, contents(t, &s)); d != "" {
				t.Fatalf("op %d (-model +sets):\n%s", i, d)
			}
		}
	}
}

func TestCollect(t *testing.T) {
	mk := func(fds ...int) *unix.FdSet {
		var s unix.FdSet
		for _, fd := range fds {
			s.Set(fd)
		}
		return &s
	}
	tests := []struct {
		name         string
		rd, wr       *unix.FdSet
		maxfd        int
		start, limit int
		want         []ready
		next         int
	}{
		{"empty", mk(), mk(), 0, 0, 10, []ready{}, 0},
		{"only fds with events (Q3)", mk(1, 5), mk(5, 9), 10, 0, 10,
			[]ready{{1, true, false}, {5, true, true}, {9, false, true}}, 0},
		{"limit", mk(1, 2, 3, 4), mk(), 5, 0, 2, []ready{{1, true, false}, {2, true, false}}, 3},
		{"resume at start", mk(1, 2, 3, 4), mk(), 5, 3, 2, []ready{{3, true, false}, {4, true, false}}, 1},
		{"wrap around", mk(1, 2, 3, 4), mk(), 5, 3, 10,
			[]ready{{3, true, false}, {4, true, false}, {1, true, false}, {2, true, false}}, 3},
		{"wrap across words", mk(0, 63, 64, 130, 1000), mk(65), 1001, 64, 10,
			[]ready{{64, true, false}, {65, false, true}, {130, true, false}, {1000, true, false}, {0, true, false}, {63, true, false}}, 64},
		{"start inside a word, low bits last", mk(2, 10, 40), mk(), 41, 10, 10,
			[]ready{{10, true, false}, {40, true, false}, {2, true, false}}, 10},
		{"start beyond maxfd resets", mk(1), mk(), 2, 50, 10, []ready{{1, true, false}}, 0},
		{"nothing at or above maxfd", mk(1, 7), mk(), 5, 0, 10, []ready{{1, true, false}}, 0},
		{"last fd of the set", mk(SetSize - 1), mk(), SetSize, 0, 10, []ready{{SetSize - 1, true, false}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, next := collect(nil, tt.rd, tt.wr, tt.maxfd, tt.start, tt.limit)
			if got == nil {
				got = []ready{}
			}
			if d := cmp.Diff(tt.want, got, cmp.AllowUnexported(ready{})); d != "" {
				t.Errorf("collect (-want +got):\n%s", d)
			}
			if next != tt.next {
				t.Errorf("next start = %d, want %d", next, tt.next)
			}
		})
	}
}

// TestCollectFair: collecting repeatedly with a limit visits every ready
// fd equally.
func TestCollectFair(t *testing.T) {
	var rd unix.FdSet
	fds := []int{0, 3, 64, 65, 300, 301, 302, 1000}
	for _, fd := range fds {
		rd.Set(fd)
	}
	var empty unix.FdSet
	seen := map[int]int{}
	start := 0
	var buf []ready
	for range 8 { // 8 rounds of 3 = 24 = 3 per fd
		buf, start = collect(buf, &rd, &empty, 1001, start, 3)
		if len(buf) != 3 {
			t.Fatalf("collected %d, want 3", len(buf))
		}
		for _, r := range buf {
			seen[r.fd]++
		}
	}
	for _, fd := range fds {
		if seen[fd] != 3 {
			t.Errorf("fd %d collected %d times, want 3 (%v)", fd, seen[fd], seen)
		}
	}
}

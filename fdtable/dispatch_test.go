package fdtable_test

import (
	"testing"

	"github.com/evpoll/evpoll/fdtable"
)

// TestDispatchOutcomes: Dispatch delivers only events whose generation is
// the fd's and whose fd still belongs to the thread, and says why not
// otherwise.
func TestDispatchOutcomes(t *testing.T) {
	tab, ths := newTable(t, 2)
	sp := socketPair(t)
	calls := 0
	if err := ths[0].Insert(sp.FD, nil, func(int, any) { calls++ }, ths[0].Bit()); err != nil {
		t.Fatal(err)
	}
	ths[0].WantRecv(sp.FD)
	gen := tab.Gen(sp.FD)
	for _, tc := range []struct {
		name      string
		th        *fdtable.Thread
		fd        int
		gen       uint32
		want      fdtable.Outcome
		wantCalls int
	}{
		{"current generation, owner", ths[0], sp.FD, gen, fdtable.Delivered, 1},
		{"previous generation", ths[0], sp.FD, gen - 1, fdtable.Stale, 0},
		{"other thread", ths[1], sp.FD, gen, fdtable.Migrated, 0},
		{"not in the table", ths[0], sp.Peer, 0, fdtable.Dead, 0},
		{"out of range", ths[0], -1, 0, fdtable.Dead, 0},
	} {
		calls = 0
		if got := tc.th.Dispatch(tc.fd, tc.gen, fdtable.ReadyR); got != tc.want {
			t.Errorf("%s: Dispatch = %d, want %d", tc.name, got, tc.want)
		}
		if calls != tc.wantCalls {
			t.Errorf("%s: iocb calls = %d, want %d", tc.name, calls, tc.wantCalls)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { ths[0].Dispatch(sp.FD, gen, fdtable.ReadyR) }); allocs != 0 {
		t.Errorf("Dispatch allocates %.1f times, want 0", allocs)
	}
}

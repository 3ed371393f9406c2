package fdtable_test

import (
	"runtime"
	"testing"

	"github.com/evpoll/evpoll/fdtable"
)

func heapAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// TestMemoryProportionalToUse: a table sized for a million fds costs a few
// kilobytes until used, and inserting an fd allocates its chunk only.
func TestMemoryProportionalToUse(t *testing.T) {
	const maxFDs = 1 << 20
	var tab *fdtable.Table
	before := heapAlloc()
	tab = fdtable.New(maxFDs)
	cost := heapAlloc() - before
	// 1M entries of this table would be ~100 MB; the chunk directory
	// is 8 bytes per 1024 fds.
	if cost > 64<<10 {
		t.Errorf("New(%d) allocated %d bytes, want < 64 KiB", maxFDs, cost)
	}
	t.Logf("New(%d): %d bytes; chunk of %d entries: %d bytes", maxFDs, cost, fdtable.ChunkEntries, fdtable.ChunkBytes)

	th, err := tab.NewThread(0)
	if err != nil {
		t.Fatal(err)
	}
	// Each run inserts an fd in a chunk never used before.
	next := 0
	var bytes uint64
	allocs := testing.AllocsPerRun(20, func() {
		fd := next * fdtable.ChunkEntries
		next++
		b := heapAlloc()
		if err := th.Insert(fd, nil, nil, 1); err != nil {
			t.Fatal(err)
		}
		bytes += heapAlloc() - b
		if err := th.Remove(fd); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 1 {
		t.Errorf("Insert into a fresh chunk: %v allocations, want 1", allocs)
	}
	per := bytes / 21
	if per < uint64(fdtable.ChunkBytes) || per > 2*uint64(fdtable.ChunkBytes) {
		t.Errorf("Insert into a fresh chunk allocated %d bytes, want about one chunk (%d)", per, fdtable.ChunkBytes)
	}
	// Further fds of an existing chunk cost nothing.
	fd := 5
	allocs = testing.AllocsPerRun(20, func() {
		if err := th.Insert(fd, nil, nil, 1); err != nil {
			t.Fatal(err)
		}
		if err := th.Remove(fd); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Insert into an existing chunk: %v allocations, want 0", allocs)
	}
	// Queries on unused fds allocate nothing either.
	allocs = testing.AllocsPerRun(20, func() {
		tab.State(maxFDs - 1)
		tab.Links(maxFDs - 1)
		tab.SetPolled(maxFDs-1, 0, true, true)
		th.UpdateEvents(maxFDs-1, fdtable.ReadyR)
	})
	if allocs != 0 {
		t.Errorf("queries on unused fds: %v allocations, want 0", allocs)
	}
	if g, _ := tab.OpenGen(maxFDs - 1); g != 0 {
		t.Error("query allocated the fd's entry")
	}
}

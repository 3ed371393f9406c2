package closeq

import (
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestQueue(t *testing.T) {
	var q Queue
	if got := q.Take(); got != nil {
		t.Fatalf("Take on an empty queue = %v", got)
	}
	q.Push(3, 1)
	q.Push(7, 2)
	if !q.Contains(7, 2) || q.Contains(7, 3) {
		t.Errorf("Contains does not match fd and generation")
	}
	if d := cmp.Diff([]FD{{3, 1}, {7, 2}}, q.Take()); d != "" {
		t.Errorf("Take (-want +got):\n%s", d)
	}
	if got := q.Take(); got != nil {
		t.Errorf("second Take = %v, want nothing", got)
	}
	q.Push(9, 4)
	if d := cmp.Diff([]FD{{9, 4}}, q.Take()); d != "" {
		t.Errorf("Take after reuse (-want +got):\n%s", d)
	}
	q.Close()
	q.Push(1, 1)
	if got := q.Take(); got != nil {
		t.Errorf("Take after Close = %v, want nothing", got)
	}
}

// TestConcurrentPush: every pushed fd is taken exactly once while pushes
// race with takes (run with -race).
func TestConcurrentPush(t *testing.T) {
	var q Queue
	const per, workers = 2000, 4
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				q.Push(w*per+i, 1)
			}
		}(w)
	}
	seen := map[int]int{}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		for _, f := range q.Take() {
			seen[f.FD]++
		}
	}
	for _, f := range q.Take() {
		seen[f.FD]++
	}
	if len(seen) != per*workers {
		t.Fatalf("took %d distinct fds, want %d", len(seen), per*workers)
	}
	for fd, n := range seen {
		if n != 1 {
			t.Fatalf("fd %d taken %d times", fd, n)
		}
	}
}

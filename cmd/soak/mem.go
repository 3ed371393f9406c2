package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"time"

	"golang.org/x/sys/unix"
)

// memLevel is what the flatness check follows.
type memLevel struct {
	heap       uint64 // heap in use (MemStats.HeapInuse), bytes
	goroutines uint64
}

func (m *memLevel) raise(to memLevel) {
	m.heap = max(m.heap, to.heap)
	m.goroutines = max(m.goroutines, to.goroutines)
}

// memWatch samples the heap in use through runtime/metrics (which, unlike
// ReadMemStats, stops no goroutine) and the goroutine count, and
// keeps the highest level of the warm-up and of the rest of the run.
type memWatch struct {
	samples      []metrics.Sample
	warm, after  memLevel
	afterSamples int
}

func newMemWatch() *memWatch {
	m := &memWatch{samples: []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
	}}
	return m
}

func (m *memWatch) read() memLevel {
	metrics.Read(m.samples)
	return memLevel{
		heap:       m.samples[0].Value.Uint64() + m.samples[1].Value.Uint64(),
		goroutines: uint64(runtime.NumGoroutine()),
	}
}

// sample records the current level, in the warm-up or after it.
func (m *memWatch) sample(warm bool) {
	lv := m.read()
	if warm {
		m.warm.raise(lv)
		return
	}
	m.after.raise(lv)
	m.afterSamples++
}

// heapLimit is the most heap in use allowed after the warm-up: twice the
// warm-up level or 4 MB more, whichever is larger (the collector lets
// garbage reach 4 MB before its first cycle).
func (m *memWatch) heapLimit() uint64 { return max(2*m.warm.heap, m.warm.heap+4<<20) }

// check fails if the heap or the goroutines grew after the warm-up.
func (m *memWatch) check() error {
	switch {
	case m.afterSamples == 0:
		return fmt.Errorf("memory: no sample after the warm-up")
	case m.after.heap > m.heapLimit():
		return fmt.Errorf("memory: heap in use reached %d kB after the warm-up, %d kB during it (at most %d kB allowed)",
			m.after.heap>>10, m.warm.heap>>10, m.heapLimit()>>10)
	case m.after.goroutines > m.warm.goroutines:
		return fmt.Errorf("memory: %d goroutines after the warm-up, %d during it",
			m.after.goroutines, m.warm.goroutines)
	}
	return nil
}

func (m *memWatch) String() string {
	return fmt.Sprintf("heap in use max %d kB warm-up, %d kB after (limit %d kB); goroutines max %d warm-up, %d after",
		m.warm.heap>>10, m.after.heap>>10, m.heapLimit()>>10, m.warm.goroutines, m.after.goroutines)
}

// cpuTime returns the process's user plus system time.
func cpuTime() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// leaker implements -debug-leak goroutines, which proves the goroutine
// check can fail: at every check it starts a goroutine that waits for the
// end. (-debug-leak heap is done by the threads' churn: see churnTask.)
type leaker struct {
	kind string
	quit chan struct{}
}

func (lk *leaker) check() {
	if lk.kind == "goroutines" {
		if lk.quit == nil {
			lk.quit = make(chan struct{})
		}
		go func(q chan struct{}) { <-q }(lk.quit)
	}
}

func (lk *leaker) end() {
	if lk.quit != nil {
		close(lk.quit)
		lk.quit = nil
	}
}

// writeMemProfile writes the heap profile for -debug-memprofile; the
// profile rate was set to every allocation at the start.
func writeMemProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

package fdtable

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// MaxThreads is the number of threads a table can serve: one bit each in a
// 64-bit thread mask.
const MaxThreads = 64

// DefaultMaxFDs caps the default table size taken from RLIMIT_NOFILE.
const DefaultMaxFDs = 1 << 20

// Errors returned by the table. They are wrapped with the operation and the
// fd number; test for them with [errors.Is].
var (
	ErrBadFD      = errors.New("fd out of range")
	ErrNotOpen    = errors.New("fd not in table")
	ErrInUse      = errors.New("fd already in table")
	ErrNoThread   = errors.New("empty thread mask")
	ErrBadThread  = errors.New("thread id out of range")
	ErrThreadUsed = errors.New("thread id already in use")
	ErrBusy       = errors.New("fd running on another thread")
	ErrChanged    = errors.New("fd generation changed")
)

const (
	chunkShift = 10
	chunkSize  = 1 << chunkShift
	chunkMask  = chunkSize - 1
)

// Table is the fd table. Create it with [New].
type Table struct {
	max    int
	chunks []atomic.Pointer[chunk]

	threads atomic.Uint64 // all_threads_mask
	used    atomic.Int64

	hooks [MaxThreads]atomic.Pointer[hookBox]
	wake  atomic.Pointer[func(mask uint64)]

	mu          sync.Mutex // shared update list
	first, last int32
	listed      atomic.Int32 // entries on the shared list, read without mu
	external    Thread
}

type hookBox struct{ h CloseHook }

// New returns a table for fds 0..maxFDs-1. maxFDs <= 0 means the soft
// RLIMIT_NOFILE, capped at [DefaultMaxFDs]; sizes above the largest fd
// number (a C int) are reduced to it. Memory is allocated in chunks of
// 1024 entries as fds are inserted.
func New(maxFDs int) *Table {
	if maxFDs > math.MaxInt32 {
		// fds are C ints, and the update lists store them as int32.
		maxFDs = math.MaxInt32
	}
	if maxFDs <= 0 {
		maxFDs = DefaultMaxFDs
		var rl unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err == nil {
			// Cur is int64 on some BSDs (RLIM_INFINITY is then -1,
			// which converts to a huge value and keeps the cap).
			if cur := uint64(rl.Cur); cur > 0 && cur < uint64(DefaultMaxFDs) {
				maxFDs = int(cur)
			}
		}
	}
	t := &Table{
		max:    maxFDs,
		chunks: make([]atomic.Pointer[chunk], (maxFDs+chunkSize-1)/chunkSize),
		first:  listEnd,
		last:   listEnd,
	}
	t.external = Thread{t: t, id: -1}
	return t
}

// MaxFDs returns the table's size: valid fds are 0..MaxFDs()-1.
func (t *Table) MaxFDs() int { return t.max }

// Used returns the number of fds inserted and not yet deleted or removed.
func (t *Table) Used() int { return int(t.used.Load()) }

// Threads returns the mask of threads created with [Table.NewThread].
func (t *Table) Threads() uint64 { return t.threads.Load() }

// lookup returns the entry of fd, or nil if fd is out of range or its chunk
// was never allocated (so the fd was never inserted).
func (t *Table) lookup(fd int) *entry {
	if uint(fd) >= uint(t.max) {
		return nil
	}
	c := t.chunks[fd>>chunkShift].Load()
	if c == nil {
		return nil
	}
	return &c[fd&chunkMask]
}

// open returns the entry of fd if it is in the table.
func (t *Table) open(fd int) *entry {
	e := t.lookup(fd)
	if e == nil || e.flags.Load()&fOpen == 0 {
		return nil
	}
	return e
}

// alloc returns the entry of fd, allocating its chunk if needed.
func (t *Table) alloc(fd int) *entry {
	p := &t.chunks[fd>>chunkShift]
	c := p.Load()
	if c == nil {
		n := new(chunk)
		for i := range n {
			n[i].next = notInList
			n[i].prev = linkUnknown
		}
		if p.CompareAndSwap(nil, n) {
			c = n
		} else {
			c = p.Load()
		}
	}
	return &c[fd&chunkMask]
}

func (t *Table) fdErr(op string, fd int) error {
	if uint(fd) >= uint(t.max) {
		return fmt.Errorf("fdtable: %s fd %d: %w (max %d)", op, fd, ErrBadFD, t.max)
	}
	return fmt.Errorf("fdtable: %s fd %d: %w", op, fd, ErrNotOpen)
}

// SetCloseHook installs the close hook of thread tid's poller (nil removes
// it). [Table.Delete] and [Table.Remove] call the hook of every thread whose
// bit is in the fd's polled masks before the fd is released.
func (t *Table) SetCloseHook(tid int, h CloseHook) error {
	if tid < 0 || tid >= MaxThreads {
		return fmt.Errorf("fdtable: close hook for thread %d: %w", tid, ErrBadThread)
	}
	if h == nil {
		t.hooks[tid].Store(nil)
	} else {
		t.hooks[tid].Store(&hookBox{h})
	}
	return nil
}

// SetWakeHook installs a function called with an fd's thread mask when a
// polling change is queued on the shared list for an active fd that the
// calling thread does not own alone. The run loop uses it to wake a sleeping
// owner (HAProxy 2.3 behaviour; 2.2 wakes nobody). nil removes it.
func (t *Table) SetWakeHook(f func(threadMask uint64)) {
	if f == nil {
		t.wake.Store(nil)
		return
	}
	t.wake.Store(&f)
}

// SetLingerRisk marks fd so that Delete resets the connection instead of
// lingering.
func (t *Table) SetLingerRisk(fd int) error {
	e := t.open(fd)
	if e == nil {
		return t.fdErr("set linger", fd)
	}
	e.flags.Or(fLinger)
	return nil
}

// MarkCloned marks every open fd as cloned (fork_poller): the open file
// description is now shared with another process, so pollers must
// deregister it explicitly before close.
func (t *Table) MarkCloned() {
	for i := range t.chunks {
		c := t.chunks[i].Load()
		if c == nil {
			continue
		}
		for j := range c {
			if c[j].flags.Load()&fOpen != 0 {
				c[j].flags.Or(fCloned)
			}
		}
	}
}

// IsOpen reports whether fd is in the table.
func (t *Table) IsOpen(fd int) bool { return t.open(fd) != nil }

// IsCloned reports whether fd is open and marked cloned.
func (t *Table) IsCloned(fd int) bool {
	e := t.open(fd)
	return e != nil && e.flags.Load()&fCloned != 0
}

// LingerRisk reports whether fd is open and marked with linger risk.
func (t *Table) LingerRisk(fd int) bool {
	e := t.open(fd)
	return e != nil && e.flags.Load()&fLinger != 0
}

// Gen returns fd's generation, bumped by every Insert (0 if never
// inserted or out of range).
func (t *Table) Gen(fd int) uint32 {
	e := t.lookup(fd)
	if e == nil {
		return 0
	}
	return e.gen.Load()
}

// OpenGen returns fd's generation and whether it is open, in one lookup:
// the test a backend makes for every kernel event.
func (t *Table) OpenGen(fd int) (gen uint32, open bool) {
	e := t.lookup(fd)
	if e == nil {
		return 0, false
	}
	return e.gen.Load(), e.flags.Load()&fOpen != 0
}

// Owner returns fd's owner, or nil. It is safe from fd's iocb or from the
// thread that inserted it; other goroutines must synchronise with Delete.
func (t *Table) Owner(fd int) any {
	e := t.open(fd)
	if e == nil {
		return nil
	}
	return e.owner
}

// State returns fd's FD_EV_* state (0 if out of range or never used).
func (t *Table) State(fd int) State {
	e := t.lookup(fd)
	if e == nil {
		return 0
	}
	return State(e.state.Load())
}

// Ev returns the FD_POLL_* conditions last reported for fd.
func (t *Table) Ev(fd int) PollEv {
	e := t.lookup(fd)
	if e == nil {
		return 0
	}
	return PollEv(e.ev.Load())
}

// ThreadMask returns the threads allowed to process fd.
func (t *Table) ThreadMask(fd int) uint64 {
	e := t.lookup(fd)
	if e == nil {
		return 0
	}
	return e.thread.Load()
}

// UpdateMask returns the threads that still have to apply a polling update
// for fd.
func (t *Table) UpdateMask(fd int) uint64 {
	e := t.lookup(fd)
	if e == nil {
		return 0
	}
	return e.update.Load()
}

// RunningMask returns the threads currently running fd's iocb.
func (t *Table) RunningMask(fd int) uint64 {
	e := t.lookup(fd)
	if e == nil {
		return 0
	}
	return e.running.Load()
}

// Polled returns the threads whose kernel pollers watch fd for receiving
// and for sending.
func (t *Table) Polled(fd int) (recv, send uint64) {
	e := t.lookup(fd)
	if e == nil {
		return 0, 0
	}
	return e.pollRecv.Load(), e.pollSend.Load()
}

// SetPolled records whether thread tid's kernel poller watches fd for
// receiving and for sending. Backends call it whenever they change a
// registration. Out-of-range fds and thread ids are ignored.
func (t *Table) SetPolled(fd, tid int, recv, send bool) {
	e := t.lookup(fd)
	if e == nil || uint(tid) >= MaxThreads {
		return
	}
	bit := uint64(1) << tid
	setBit(&e.pollRecv, bit, recv)
	setBit(&e.pollSend, bit, send)
}

func setBit(m *atomic.Uint64, bit uint64, on bool) {
	if on {
		if m.Load()&bit == 0 {
			m.Or(bit)
		}
	} else if m.Load()&bit != 0 {
		m.And(^bit)
	}
}

// ClearPolled clears every thread's polled bits for fd.
func (t *Table) ClearPolled(fd int) {
	e := t.lookup(fd)
	if e == nil {
		return
	}
	e.pollRecv.Store(0)
	e.pollSend.Store(0)
}

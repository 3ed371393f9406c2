//go:build unix

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

// defaultMaxFDs caps the default table size taken from RLIMIT_NOFILE.
const defaultMaxFDs = 1 << 20

// Errors returned by the table. They are wrapped with the operation and the
// fd number; test for them with [errors.Is].
var (
	ErrBadFD     = errors.New("fd out of range")
	ErrNotOpen   = errors.New("fd not in table") // or not the generation asked for
	ErrInUse     = errors.New("fd already in table")
	ErrBadThread = errors.New("bad thread")
	ErrBusy      = errors.New("fd running on another thread")
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

	hooks [MaxThreads]atomic.Pointer[hookBox]
	wake  atomic.Pointer[func(mask uint64)]

	mu          sync.Mutex // shared update list
	first, last int32
	listed      atomic.Int32 // entries on the shared list, read without mu
	external    Thread
}

type hookBox struct{ h Updater }

// New returns a table for fds 0..maxFDs-1. maxFDs <= 0 means the soft
// RLIMIT_NOFILE, capped at 2^20 (1,048,576) entries; sizes above the largest fd
// number (a C int) are reduced to it. Memory is allocated in chunks of
// 1024 entries as fds are inserted.
func New(maxFDs int) *Table {
	if maxFDs > math.MaxInt32 {
		// fds are C ints, and the update lists store them as int32.
		maxFDs = math.MaxInt32
	}
	if maxFDs <= 0 {
		maxFDs = defaultMaxFDs
		var rl unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err == nil {
			// Cur is int64 on some BSDs (RLIM_INFINITY is then -1,
			// which converts to a huge value and keeps the cap).
			if cur := uint64(rl.Cur); cur > 0 && cur < uint64(defaultMaxFDs) {
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
	t.external = Thread{t: t, id: -1, chunks: t.chunks}
	return t
}

// MaxFDs returns the table's size: valid fds are 0..MaxFDs()-1.
func (t *Table) MaxFDs() int { return t.max }

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
	t.each(func(_ int, e *entry) {
		if e.flags.Load()&fOpen != 0 {
			e.flags.Or(fCloned)
		}
	})
}

// Info is a snapshot of one fd's entry, for diagnostics, tests and
// backends that need more than [Table.State]. Each field is read
// atomically, but the fields are not read at one instant: other
// goroutines may change the fd between them.
//
// Ev holds the conditions last reported for the fd (HAProxy's FD_POLL_*
// bits) as State bits: ReadyR (FD_POLL_IN) and ReadyW (FD_POLL_OUT) as
// the last event reported them, ShutR (FD_POLL_HUP) and ErrRW
// (FD_POLL_ERR, also set by SHUT_W while the fd is active for sending)
// kept from every event since the fd was inserted.
type Info struct {
	Open   bool   // the fd is in the table
	Gen    uint32 // bumped by every Insert; 0 if never inserted
	State  State  // FD_EV_* bits
	Ev     State  // conditions last reported (HAProxy: fdtab[].ev), see above
	Cloned bool   // marked cloned by MarkCloned (fork)
	Linger bool   // marked with SetLingerRisk
	// Masks of thread bits: allowed to process the fd, with a polling
	// update pending, running its iocb, and whose pollers watch it for
	// receiving and for sending.
	Threads, Updates, Running, PolledRecv, PolledSend uint64
}

// Info returns a snapshot of fd's entry; the zero Info for an fd out of
// range or never used.
func (t *Table) Info(fd int) Info {
	e := t.lookup(fd)
	if e == nil {
		return Info{}
	}
	fl := e.flags.Load()
	return Info{
		Open:       fl&fOpen != 0,
		Gen:        e.gen.Load(),
		State:      State(e.state.Load()),
		Ev:         State(e.ev.Load()),
		Cloned:     fl&(fOpen|fCloned) == fOpen|fCloned,
		Linger:     fl&(fOpen|fLinger) == fOpen|fLinger,
		Threads:    e.thread.Load(),
		Updates:    e.update.Load(),
		Running:    e.running.Load(),
		PolledRecv: e.pollRecv.Load(),
		PolledSend: e.pollSend.Load(),
	}
}

// State returns fd's FD_EV_* state (0 if out of range or never used).
func (t *Table) State(fd int) State {
	e := t.lookup(fd)
	if e == nil {
		return 0
	}
	return State(e.state.Load())
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

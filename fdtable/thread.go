//go:build unix

package fdtable

import (
	"fmt"
	"sync/atomic"
)

// Thread is one polling thread's handle on a table: its id, its bit in the
// thread masks and its local update list. A Thread with an id is not safe
// for concurrent use: it belongs to the goroutine that polls for it. The
// Thread returned by [Table.External] has no bit and no local list and is
// safe for concurrent use.
type Thread struct {
	t    *Table
	id   int
	bit  uint64
	updt []int32 // local update list (fd_updt)
	glob []int32 // scratch for DrainUpdates

	// dispatch.go: the table's chunk array (fixed by New), and 1 + the
	// fd whose iocb this thread is running, 0 for none (released by
	// EndDispatch if the iocb does not return). An int, not an entry
	// pointer, so that setting it costs no write barrier.
	chunks  []atomic.Pointer[chunk]
	running int
	inHook  bool // tests only: running testHookDispatch
}

// NewThread returns the handle of thread id (0..MaxThreads-1) and adds its
// bit to the table's thread mask. Each id may be taken once until
// [Thread.Close].
func (t *Table) NewThread(id int) (*Thread, error) {
	if id < 0 || id >= MaxThreads {
		return nil, fmt.Errorf("fdtable: new thread %d: id out of range: %w", id, ErrBadThread)
	}
	bit := uint64(1) << id
	for {
		m := t.threads.Load()
		if m&bit != 0 {
			return nil, fmt.Errorf("fdtable: new thread %d: id in use: %w", id, ErrBadThread)
		}
		if t.threads.CompareAndSwap(m, m|bit) {
			break
		}
	}
	return &Thread{t: t, id: id, bit: bit, updt: make([]int32, 0, 64), chunks: t.chunks}, nil
}

// External returns the table's thread-less handle: changes made through it
// always go to the shared update list. It is safe for concurrent use. It
// has no bit in the running mask, so Delete, Remove or Insert through it
// from inside an fd's iocb wait for that iocb to return: an iocb must
// delete its own fd through its thread's handle.
func (t *Table) External() *Thread { return &t.external }

// Close releases the thread's id. Pending updates for the thread are
// dropped: its bit is cleared from the update masks of the fds on its local
// list and of those on the shared list (an entry no remaining thread has to
// apply leaves the list), so that a thread later created with the same id
// starts with no stale pending bit that would stop it from queueing.
func (th *Thread) Close() {
	if th.bit == 0 {
		return
	}
	t := th.t
	all := t.threads.And(^th.bit) &^ th.bit
	for _, fd := range th.updt {
		if e := t.lookup(int(fd)); e != nil {
			e.update.And(^th.bit)
		}
	}
	th.updt = th.updt[:0]
	t.mu.Lock()
	for fd := t.first; fd >= 0; {
		e := t.lookup(int(fd))
		next := e.next
		if e.update.Load()&th.bit != 0 {
			e.update.And(^th.bit)
			if e.update.Load()&all == 0 {
				t.listRemoveLocked(int(fd), e)
			}
		}
		fd = next
	}
	t.mu.Unlock()
}

// Table returns the thread's table.
func (th *Thread) Table() *Table { return th.t }

// ID returns the thread's id (-1 for the external handle).
func (th *Thread) ID() int { return th.id }

// Bit returns the thread's bit in thread masks (0 for the external handle).
func (th *Thread) Bit() uint64 { return th.bit }

// updatePolling queues a polling update for fd (updt_fd_polling).
func (th *Thread) updatePolling(fd int, e *entry) {
	tm := e.thread.Load()
	if th.bit != 0 && tm&th.t.threads.Load() == th.bit {
		if e.update.Or(th.bit)&th.bit != 0 {
			return
		}
		th.updt = append(th.updt, int32(fd))
		return
	}
	for {
		old := e.update.Load()
		if old == tm {
			return
		}
		if e.update.CompareAndSwap(old, tm) {
			break
		}
	}
	th.t.listAdd(fd, e)
	if w := th.t.wake.Load(); w != nil && tm&^th.bit != 0 && e.state.Load()&uint32(ActiveRW) != 0 {
		(*w)(tm)
	}
}

// set sets bits in fd's state and reports whether any was newly set.
func (th *Thread) set(op string, fd int, bits State) (*entry, bool, error) {
	e := th.t.open(fd)
	if e == nil {
		return nil, false, th.t.fdErr(op, fd)
	}
	old := e.state.Load()
	if old&uint32(bits) == uint32(bits) {
		return e, false, nil
	}
	old = e.state.Or(uint32(bits))
	return e, old&uint32(bits) != uint32(bits), nil
}

func (th *Thread) clear(op string, fd int, bits State) error {
	e := th.t.open(fd)
	if e == nil {
		return th.t.fdErr(op, fd)
	}
	if e.state.Load()&uint32(bits) != 0 {
		e.state.And(^uint32(bits))
	}
	return nil
}

// WantRecv sets ACTIVE_R and, if it changed, queues a polling update.
func (th *Thread) WantRecv(fd int) error {
	e, changed, err := th.set("want recv", fd, ActiveR)
	if changed {
		th.updatePolling(fd, e)
	}
	return err
}

// WantSend sets ACTIVE_W and, if it changed, queues a polling update.
func (th *Thread) WantSend(fd int) error {
	e, changed, err := th.set("want send", fd, ActiveW)
	if changed {
		th.updatePolling(fd, e)
	}
	return err
}

// StopRecv clears ACTIVE_R. As in HAProxy 2.2 no update is queued: the
// registration is removed lazily, once the kernel reports an event nobody
// wants (see [Thread.Dispatch]).
func (th *Thread) StopRecv(fd int) error { return th.clear("stop recv", fd, ActiveR) }

// StopSend clears ACTIVE_W, lazily like [Thread.StopRecv].
func (th *Thread) StopSend(fd int) error { return th.clear("stop send", fd, ActiveW) }

// StopBoth clears ACTIVE_R and ACTIVE_W, lazily like [Thread.StopRecv].
func (th *Thread) StopBoth(fd int) error { return th.clear("stop both", fd, ActiveRW) }

// CantRecv clears READY_R (receiving returned EAGAIN).
func (th *Thread) CantRecv(fd int) error { return th.clear("cant recv", fd, ReadyR) }

// CantSend clears READY_W (sending returned EAGAIN).
func (th *Thread) CantSend(fd int) error { return th.clear("cant send", fd, ReadyW) }

// MayRecv sets READY_R.
func (th *Thread) MayRecv(fd int) error { _, _, err := th.set("may recv", fd, ReadyR); return err }

// MaySend sets READY_W.
func (th *Thread) MaySend(fd int) error { _, _, err := th.set("may send", fd, ReadyW); return err }

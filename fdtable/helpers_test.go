package fdtable_test

import (
	"errors"
	"os"
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"golang.org/x/sys/unix"
)

// tableSize is large enough for any fd number a test process gets from the
// kernel, and for the fixed high fd numbers used by the model test.
const tableSize = 4096

// sockPair is a unix socket pair; FD is the end handed to the table, Peer
// the other end. Both are closed at cleanup unless the table closed FD.
type sockPair struct {
	FD, Peer int
	closed   bool // FD was closed by Table.Delete
}

func socketPair(t testing.TB) *sockPair {
	t.Helper()
	p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	unix.CloseOnExec(p[0])
	unix.CloseOnExec(p[1])
	sp := &sockPair{FD: p[0], Peer: p[1]}
	t.Cleanup(func() {
		unix.Close(sp.Peer)
		if !sp.closed {
			unix.Close(sp.FD)
		}
	})
	return sp
}

// delete deletes the pair's table end through th; the table closes it.
func (sp *sockPair) delete(th *fdtable.Thread) error {
	err := th.Delete(sp.FD)
	if err == nil || errClass(err) == "syscall:close" {
		sp.closed = true
	}
	return err
}

// fdIsClosed reports whether fd is not an open descriptor of this process.
func fdIsClosed(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return errors.Is(err, unix.EBADF)
}

// newTable returns a table with threads 0..n-1.
func newTable(t testing.TB, n int) (*fdtable.Table, []*fdtable.Thread) {
	t.Helper()
	tab := fdtable.New(tableSize)
	ths := make([]*fdtable.Thread, n)
	for i := range ths {
		th, err := tab.NewThread(i)
		if err != nil {
			t.Fatalf("NewThread(%d): %v", i, err)
		}
		ths[i] = th
	}
	return tab, ths
}

// errClass names the sentinel an error wraps, for comparisons.
func errClass(err error) string {
	if err == nil {
		return "nil"
	}
	for _, s := range []struct {
		name string
		err  error
	}{
		{"ErrBadFD", fdtable.ErrBadFD},
		{"ErrNotOpen", fdtable.ErrNotOpen},
		{"ErrInUse", fdtable.ErrInUse},
		{"ErrBadThread", fdtable.ErrBadThread},
		{"ErrBusy", fdtable.ErrBusy},
	} {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		return "syscall:" + se.Syscall
	}
	return "other:" + err.Error()
}

// fdSnap is everything the table says about one fd.
type fdSnap struct {
	Open     bool
	State    fdtable.State
	Ev       fdtable.State
	Thread   uint64
	Update   uint64
	Running  uint64
	PollRecv uint64
	PollSend uint64
	Links    fdtable.ListLinks
	Gen      uint32
}

func snap(tab *fdtable.Table, fd int) fdSnap {
	r, s := tab.Polled(fd)
	return fdSnap{
		Open:     tab.IsOpen(fd),
		State:    tab.State(fd),
		Ev:       tab.Ev(fd),
		Thread:   tab.ThreadMask(fd),
		Update:   tab.UpdateMask(fd),
		Running:  tab.RunningMask(fd),
		PollRecv: r,
		PollSend: s,
		Links:    tab.Links(fd),
		Gen:      tab.Gen(fd),
	}
}

// recUpdater records the fds DrainUpdates hands to UpdateFD, with the state
// each had at that moment.
type recUpdater struct {
	tab   *fdtable.Table
	fds   []int
	state []fdtable.State
}

func (u *recUpdater) UpdateFD(up fdtable.Update) {
	fd := up.FD
	u.fds = append(u.fds, fd)
	if u.tab != nil {
		u.state = append(u.state, u.tab.State(fd))
	}
}

// Closing does nothing: no poller instance is attached in this test.
func (*recUpdater) Closing(int, uint32, bool) {}

func (u *recUpdater) take() []int {
	f := u.fds
	u.fds, u.state = nil, nil
	return f
}

// nopUpdater does nothing.
type nopUpdater struct{}

func (nopUpdater) UpdateFD(fdtable.Update)   {}
func (nopUpdater) Closing(int, uint32, bool) {}

// hookCall is one recorded Closing call.
type hookCall struct {
	Tid      int
	FD       int
	KeepOpen bool
	// What the hook saw when called: the fd was still a valid descriptor,
	// and the polled masks were not yet cleared.
	FDValid  bool
	PollRecv uint64
	PollSend uint64
}

// hookRec is a fake poller close hook for one thread id.
type hookRec struct {
	tid   int
	tab   *fdtable.Table
	calls *[]hookCall
}

func (hookRec) UpdateFD(fdtable.Update) {}

func (h hookRec) Closing(fd int, _ uint32, keepOpen bool) {
	r, s := h.tab.Polled(fd)
	*h.calls = append(*h.calls, hookCall{
		Tid: h.tid, FD: fd, KeepOpen: keepOpen,
		FDValid: !fdIsClosed(fd), PollRecv: r, PollSend: s,
	})
}

// installHooks installs a recording close hook for thread ids 0..n-1.
func installHooks(t fataler, tab *fdtable.Table, n int) *[]hookCall {
	t.Helper()
	calls := new([]hookCall)
	for tid := range n {
		if err := tab.SetCloseHook(tid, hookRec{tid: tid, tab: tab, calls: calls}); err != nil {
			t.Fatalf("SetCloseHook(%d): %v", tid, err)
		}
	}
	return calls
}

// sharedList returns the fds on the shared list (never nil, for cmp).
func sharedList(tab *fdtable.Table) []int {
	fds, _, _ := tab.SharedList()
	if fds == nil {
		return []int{}
	}
	return fds
}

// local returns a copy of th's local update list as ints (never nil).
func local(th *fdtable.Thread) []int {
	out := []int{}
	for _, fd := range th.LocalUpdates() {
		out = append(out, int(fd))
	}
	return out
}

// dupCloexec duplicates fd with close-on-exec set.
func dupCloexec(fd int) (int, error) {
	return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
}

// fataler is the part of testing.TB that rapid.T also implements.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

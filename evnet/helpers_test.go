package evnet

import (
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/loop"
	_ "github.com/evpoll/evpoll/pollers"
	"github.com/stretchr/testify/require"
)

// fdDir lists the process's open fds: /proc/self/fd on Linux, /dev/fd on
// the BSDs and Darwin.
var fdDir = func() string {
	if _, err := os.Stat("/proc/self/fd"); err == nil {
		return "/proc/self/fd"
	}
	return "/dev/fd"
}()

// openFDs counts the process's open file descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir(fdDir)
	require.NoError(t, err)
	return len(ents)
}

// checkFDs fails the test at cleanup if the process has more open fds
// than when it was called (after a grace period for closes in flight).
func checkFDs(t *testing.T) {
	t.Helper()
	before := openFDs(t)
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for openFDs(t) > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := openFDs(t); n > before {
			ents, _ := os.ReadDir(fdDir)
			var links []string
			for _, e := range ents {
				l, _ := os.Readlink(fdDir + "/" + e.Name())
				links = append(links, e.Name()+"->"+l)
			}
			t.Fatalf("fd leak: %d open, %d before: %v", n, before, links)
		}
	})
}

// running is a loop run by a goroutine for one test.
type running struct {
	l    *loop.Loop
	done chan error
}

// startLoop runs a loop with the given threads; at cleanup it is stopped
// hard if it is still running.
func startLoop(t *testing.T, threads int, setup func(l *loop.Loop)) *running {
	t.Helper()
	l, err := loop.New(loop.Config{Threads: threads, Table: fdtable.New(1024)})
	require.NoError(t, err)
	if setup != nil {
		setup(l)
	}
	r := &running{l: l, done: make(chan error, 1)}
	l.AddJobs(1) // the test itself: released by stop
	go func() { r.done <- l.Run() }()
	t.Cleanup(func() { l.Stop(); <-r.done })
	return r
}

// softStop releases the test's job, soft-stops the loop and waits for Run.
func (r *running) softStop(t *testing.T) {
	t.Helper()
	r.l.AddJobs(-1)
	r.l.SoftStop()
	select {
	case err := <-r.done:
		require.NoError(t, err)
		r.done <- err
	case <-time.After(5 * time.Second):
		t.Fatal("soft stop did not end the loop")
	}
}

// event is one callback seen by a recorder.
type event struct {
	kind string
	tid  int
	data string
	err  error
}

// recorder is a Handler that reports every callback on a channel and
// runs optional hooks.
type recorder struct {
	ev      chan event
	open    func(c *Conn)
	data    func(c *Conn, p []byte)
	eof     func(c *Conn)
	drained func(c *Conn)
}

func newRecorder() *recorder { return &recorder{ev: make(chan event, 4096)} }

func (r *recorder) OnOpen(c *Conn) {
	r.ev <- event{kind: "open", tid: c.Thread().ID()}
	if r.open != nil {
		r.open(c)
	}
}

func (r *recorder) OnData(c *Conn, p []byte) {
	if r.data != nil {
		r.data(c, p)
		return
	}
	r.ev <- event{kind: "data", data: string(p)}
}

func (r *recorder) OnWritable(c *Conn) {
	if r.drained != nil {
		r.drained(c)
	}
}

func (r *recorder) OnClose(c *Conn, err error) { r.ev <- event{kind: "close", err: err} }

// eofRecorder adds OnEOF to a recorder.
type eofRecorder struct{ *recorder }

func (r eofRecorder) OnEOF(c *Conn) {
	r.ev <- event{kind: "eof"}
	if r.eof != nil {
		r.eof(c)
	}
}

// next waits for the next event of the given kind, skipping others.
func (r *recorder) next(t *testing.T, kind string) event {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case e := <-r.ev:
			if e.kind == kind {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s event within 5s", kind)
		}
	}
}

// echoHandler writes back what it reads.
type echoHandler struct {
	mu     sync.Mutex
	closed []error
}

func (*echoHandler) OnOpen(*Conn)             {}
func (*echoHandler) OnData(c *Conn, p []byte) { c.Write(p) }
func (*echoHandler) OnWritable(*Conn)         {}
func (h *echoHandler) OnClose(_ *Conn, err error) {
	h.mu.Lock()
	h.closed = append(h.closed, err)
	h.mu.Unlock()
}

// dialTest connects a client to ln's address.
func dialTest(t *testing.T, ln *Listener) net.Conn {
	t.Helper()
	c, err := net.Dial(ln.Addr().Network(), ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

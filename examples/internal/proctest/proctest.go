// Package proctest runs the example programs as processes for their
// tests: it builds the binary, starts it, waits for its "listening on"
// line and collects its exit status and standard error. It counts open
// fds on both sides: the test process must have no more at the end of
// the test than when it started the program, and RequireFDs checks the
// program's own count in /proc/<pid>/fd against the one it had when it
// printed its address.
package proctest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/evpoll/evpoll/internal/fdcount"
	"github.com/evpoll/evpoll/poller"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// Build compiles the package in the current directory into a temporary
// directory and returns the binary's path and a cleanup function. It is
// meant for TestMain.
func Build(name string) (string, func(), error) {
	dir, err := os.MkdirTemp("", name+"-test")
	if err != nil {
		return "", nil, err
	}
	bin := filepath.Join(dir, name)
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("building %s: %v\n%s", name, err, out)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

// Main is a whole TestMain for a program's process tests: it builds the
// program into *bin, runs the tests, removes the binary and exits. Tests
// that pass but leave goroutines behind (a client reader never stopped,
// a process never waited for) fail it, as goleak's VerifyTestMain does;
// os/signal's delivery goroutine lives as long as the process by design.
func Main(m *testing.M, name string, bin *string) {
	b, cleanup, err := Build(name)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*bin = b
	code := m.Run()
	cleanup()
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreTopFunction("os/signal.signal_recv")); err != nil {
			fmt.Fprintln(os.Stderr, "goleak: errors on successful test run:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// Buffer collects a process's standard error.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Proc is a running example program.
type Proc struct {
	Cmd    *exec.Cmd
	Addr   string // from the "listening on" line
	Stderr *Buffer
	exited chan struct{}
	err    error
	fds    int // the program's open fds when it printed its address
}

// Start runs bin with args and waits for its "listening on" line; the
// process is killed at the end of the test if it still runs.
func Start(t *testing.T, bin string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Cmd: exec.Command(bin, args...), Stderr: &Buffer{}, exited: make(chan struct{})}
	p.Cmd.Stderr = p.Stderr
	fdcount.Check(t) // runs after the cleanup below has reaped the process
	out, err := p.Cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, p.Cmd.Start())
	t.Cleanup(func() {
		p.Cmd.Process.Kill()
		<-p.exited
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- s
		io.Copy(io.Discard, out)
		p.err = p.Cmd.Wait()
		close(p.exited)
	}()
	select {
	case s := <-line:
		require.True(t, strings.HasPrefix(s, "listening on "), "first line %q; stderr: %s", s, p.Stderr)
		p.Addr = strings.TrimSpace(strings.TrimPrefix(s, "listening on "))
	case <-time.After(10 * time.Second):
		t.Fatalf("no listening line; stderr: %s", p.Stderr)
	}
	if fdcount.HasProc {
		p.fds = len(p.fdList(t))
	}
	return p
}

// fdList lists the program's open fds with what they point to.
func (p *Proc) fdList(t *testing.T) []string {
	t.Helper()
	l, err := fdcount.Of(p.Cmd.Process.Pid)
	require.NoError(t, err)
	return l
}

// RequireFDs waits up to 3 s for the program to have exactly extra more
// open fds than when it printed its address (one per connection the test
// holds open, say), and fails the test with the list otherwise. Without
// /proc (not Linux) it checks nothing.
func (p *Proc) RequireFDs(t *testing.T, extra int) {
	t.Helper()
	if !fdcount.HasProc {
		return
	}
	want := p.fds + extra
	deadline := time.Now().Add(3 * time.Second)
	got := p.fdList(t)
	for len(got) != want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		got = p.fdList(t)
	}
	require.Len(t, got, want, "the program's fds (%d at start, %d expected now): %v", p.fds, want, got)
}

// Signal sends sig to the process.
func (p *Proc) Signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	require.NoError(t, p.Cmd.Process.Signal(sig))
}

// WaitExit waits up to d for the process to exit and returns its status.
func (p *Proc) WaitExit(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(d):
		t.Fatalf("still running after %v; stderr: %s", d, p.Stderr)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(t, p.err)
	return 0
}

// Running reports whether the process still runs.
func (p *Proc) Running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Backends returns the names of the backends that work here.
func Backends(t *testing.T) []string {
	t.Helper()
	cands, err := poller.Candidates()
	require.NoError(t, err)
	var names []string
	for _, b := range cands {
		names = append(names, b.Name)
	}
	require.NotEmpty(t, names)
	return names
}

// BadFlag runs bin with args and checks it exits 2 naming want.
func BadFlag(t *testing.T, bin string, args []string, want string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 2, ee.ExitCode(), "stderr: %s", stderr.String())
	require.Contains(t, stderr.String(), want)
}

// EchoRound sends a random message of 1 to maxLen bytes on c and checks
// that an echo server sends it back whole.
func EchoRound(c net.Conn, rng *rand.Rand, maxLen int) error {
	msg := make([]byte, 1+rng.IntN(maxLen))
	for i := range msg {
		msg[i] = byte(rng.Uint32())
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	errc := make(chan error, 1)
	go func() { _, err := c.Write(msg); errc <- err }()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if err := <-errc; err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return errors.New("echo differs from what was sent")
	}
	return nil
}

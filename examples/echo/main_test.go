package main

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
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/evpoll/evpoll/poller"
	_ "github.com/evpoll/evpoll/pollers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "echo-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "echo")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building echo: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer collects a process's standard error.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type proc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
	exited chan struct{}
	err    error
}

// start runs the echo binary and waits for its "listening on" line.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary, args...), stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd.Stderr = p.stderr
	out, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- s
		io.Copy(io.Discard, out)
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	select {
	case s := <-line:
		require.True(t, strings.HasPrefix(s, "listening on "), "first line %q; stderr: %s", s, p.stderr)
		p.addr = strings.TrimSpace(strings.TrimPrefix(s, "listening on "))
	case <-time.After(10 * time.Second):
		t.Fatalf("no listening line; stderr: %s", p.stderr)
	}
	return p
}

func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(sig))
}

// waitExit waits up to d for the process to exit and returns its status.
func (p *proc) waitExit(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(d):
		t.Fatalf("still running after %v; stderr: %s", d, p.stderr)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(t, p.err)
	return 0
}

func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// echoRound sends a random message on c and checks it comes back whole.
func echoRound(c net.Conn, rng *rand.Rand) error {
	msg := make([]byte, 1+rng.IntN(8<<10))
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

// dialAll opens n connections at once and runs rounds echo rounds on each,
// concurrently.
func dialAll(t *testing.T, addr string, n, rounds int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				errs[i] = err
				return
			}
			conns[i] = c
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			for range rounds {
				if err := echoRound(c, rng); err != nil {
					errs[i] = fmt.Errorf("conn %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	require.NoError(t, errors.Join(errs...))
	return conns
}

func backends(t *testing.T) []string {
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

var acceptedLine = regexp.MustCompile(`(?m)^accepted: (\d+) \[ (\d+) (\d+) \]$`)

// Hundreds of concurrent clients on two threads, the activity dump on
// SIGHUP, then a soft stop: the listener refuses new connections at once,
// open ones keep working, and the process exits 0 after the last closes.
func TestSoftStopUnderLoad(t *testing.T) {
	for _, name := range backends(t) {
		t.Run("poller="+name, func(t *testing.T) {
			p := start(t, "-threads", "2", "-poller", name)
			conns := dialAll(t, p.addr, 300, 3)

			p.signal(t, syscall.SIGHUP)
			var m []string
			require.Eventually(t, func() bool {
				m = acceptedLine.FindStringSubmatch(p.stderr.String())
				return m != nil
			}, 5*time.Second, 5*time.Millisecond, "no activity dump: %s", p.stderr)
			assert.Contains(t, p.stderr.String(), "thread_id: 1 (1..2)\n")
			assert.Contains(t, p.stderr.String(), "\nloops: ")
			total, _ := strconv.Atoi(m[1])
			a, _ := strconv.Atoi(m[2])
			b, _ := strconv.Atoi(m[3])
			assert.Equal(t, 300, total)
			assert.Equal(t, total, a+b)
			assert.Greater(t, a, 100, "connections spread over the threads")
			assert.Greater(t, b, 100, "connections spread over the threads")

			p.signal(t, syscall.SIGUSR1)
			require.Eventually(t, func() bool {
				c, err := net.DialTimeout("tcp", p.addr, time.Second)
				if err == nil {
					c.Close()
				}
				return errors.Is(err, syscall.ECONNREFUSED)
			}, 2*time.Second, 5*time.Millisecond, "new connections still accepted after SIGUSR1")

			rng := rand.New(rand.NewPCG(9, 9))
			for i, c := range conns {
				require.NoError(t, echoRound(c, rng), "conn %d after soft stop", i)
			}
			for _, c := range conns[1:] {
				c.Close()
			}
			time.Sleep(100 * time.Millisecond)
			assert.True(t, p.running(), "exited with a connection still open")
			require.NoError(t, echoRound(conns[0], rng), "last conn still served")
			conns[0].Close()
			assert.Equal(t, 0, p.waitExit(t, 5*time.Second), "stderr: %s", p.stderr)
		})
	}
}

// SIGTERM and SIGINT stop within a second even with connections open.
func TestHardStop(t *testing.T) {
	for _, name := range backends(t) {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
			t.Run(fmt.Sprintf("poller=%s/signal=%d", name, sig), func(t *testing.T) {
				p := start(t, "-threads", "2", "-poller", name)
				dialAll(t, p.addr, 50, 1)
				start := time.Now()
				p.signal(t, sig)
				assert.Equal(t, 0, p.waitExit(t, 3*time.Second))
				assert.Less(t, time.Since(start), time.Second, "exit took too long")
			})
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"-threads", "-1"}, "-threads"},
		{[]string{"-threads", "x"}, "-threads"},
		{[]string{"-poller", "nosuch"}, "-poller"},
		{[]string{"-addr", "256.0.0.1:1"}, "-addr"},
		{[]string{"extra"}, "extra"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			cmd := exec.Command(binary, c.args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, 2, ee.ExitCode())
			assert.Contains(t, stderr.String(), c.flag)
		})
	}
}

package evnet

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/loop"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// stormServerEnv makes the test binary an echo server whose fd limit is
// lowered to leave it the given number of free descriptors.
const stormServerEnv = "EVNET_STORM_SERVER"

// stormPause is the storm server's accept pause.
const stormPause = 20 * time.Millisecond

// runStormServer serves echo on two loop threads with RLIMIT_NOFILE just
// above its open fds plus spec free ones. It prints its address, then,
// once stdin is closed, its accept pauses, CPU and wall time, and its fd
// counts with the loop running (at the start, once its clients are gone)
// and before and after the loop.
func runStormServer(spec string) int {
	var free int
	if _, err := fmt.Sscan(spec, &free); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	// The runtime's own poller (for timers and the stdin pipe) is made
	// before the limit, which would otherwise make its creation fatal.
	stdinDone := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(stdinDone) }()
	time.Sleep(time.Millisecond)
	fdsBase := countFDs()
	l, err := loop.New(loop.Config{Threads: 2, Table: fdtable.New(1024)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := Listen(l, "tcp", "127.0.0.1:0", Options{Handler: &echoHandler{}, AcceptPause: stormPause})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fdsStart := countFDs()
	// The limit goes just above the highest fd, the free numbers below it
	// are filled, then the limit is raised by free.
	var lim unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
	top := highestOpen() + 1
	setLimit(&lim.Cur, top)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var fillers []int
	for {
		fd, err := unix.Dup(0)
		if err != nil {
			break
		}
		fillers = append(fillers, fd)
	}
	setLimit(&lim.Cur, top+free)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- l.Run() }()
	var ru0 unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru0)
	start := time.Now()
	fmt.Printf("listening on %s\n", ln.Addr())
	<-stdinDone
	wall := time.Since(start)
	var ru1 unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	pauses := ln.Pauses()
	// Every client has closed: the server's connections go with them.
	want := fdsStart + len(fillers)
	for deadline := time.Now().Add(2 * time.Second); countFDs() != want && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	fdsEnd := countFDs() - len(fillers)
	l.SoftStop()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, fd := range fillers {
		unix.Close(fd)
	}
	fmt.Printf("pauses %d cpu_ms %d wall_ms %d fds_start %d fds_end %d fds_base %d fds_stopped %d\n",
		pauses, cpu.Milliseconds(), wall.Milliseconds(), fdsStart, fdsEnd, fdsBase, countFDs())
	return 0
}

// countFDs and highestOpen read /proc/self/fd outside a test.
func countFDs() int {
	ents, _ := os.ReadDir(fdDir)
	return len(ents)
}

func highestOpen() int {
	ents, _ := os.ReadDir(fdDir)
	top := 0
	for _, e := range ents {
		var n int
		if _, err := fmt.Sscan(e.Name(), &n); err == nil {
			top = max(top, n)
		}
	}
	return top
}

// TestAcceptEMFILEStorm runs the echo server in a child process whose fd
// limit leaves it 8 free descriptors, and 600 clients, 60 at a time,
// connect, echo a line, hold the connection 10 ms and close: the server
// hits EMFILE over and over. Every client is served; the listener pauses
// many times but about once per pause interval at most (no busy loop,
// also bounded by the child's CPU time); after the storm a new client is
// served at once; and the child ends with the fds it started with.
func TestAcceptEMFILEStorm(t *testing.T) {
	checkFDs(t)
	const clients, parallel = 600, 60
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), stormServerEnv+"=8")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	out := bufio.NewScanner(stdout)
	require.True(t, out.Scan(), "no address from the server")
	addr, ok := strings.CutPrefix(out.Text(), "listening on ")
	require.True(t, ok, out.Text())

	echo := func(i int, hold time.Duration) error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		msg := fmt.Sprintf("client %d\n", i)
		if _, err := c.Write([]byte(msg)); err != nil {
			return err
		}
		got, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return err
		}
		if got != msg {
			return fmt.Errorf("echo %q, want %q", got, msg)
		}
		time.Sleep(hold)
		return nil
	}
	start := time.Now()
	var served atomic.Int64
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	work := make(chan int)
	for range parallel {
		wg.Go(func() {
			for i := range work {
				if err := echo(i, 10*time.Millisecond); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					continue
				}
				served.Add(1)
			}
		})
	}
	for i := range clients {
		work <- i
	}
	close(work)
	wg.Wait()
	storm := time.Since(start)
	require.Empty(t, errs)
	require.Equal(t, int64(clients), served.Load())
	// After the storm: served within a pause or two.
	t0 := time.Now()
	require.NoError(t, echo(-1, 0))
	assert.Less(t, time.Since(t0), time.Second)

	require.NoError(t, stdin.Close())
	require.True(t, out.Scan(), "no report from the server")
	var pauses, cpuMS, wallMS, fdsStart, fdsEnd, fdsBase, fdsStopped int
	_, err = fmt.Sscanf(out.Text(), "pauses %d cpu_ms %d wall_ms %d fds_start %d fds_end %d fds_base %d fds_stopped %d",
		&pauses, &cpuMS, &wallMS, &fdsStart, &fdsEnd, &fdsBase, &fdsStopped)
	require.NoError(t, err, out.Text())
	require.NoError(t, cmd.Wait())
	t.Logf("storm %v: %s", storm, out.Text())
	// 600 clients through 8 descriptors: the limit is hit repeatedly.
	assert.GreaterOrEqual(t, pauses, 10, "EMFILE hit repeatedly")
	// No more than one pause per interval (twice that for slack); a
	// listener that retried at once would count one per wake-up.
	assert.LessOrEqual(t, pauses, 2*wallMS/int(stormPause/time.Millisecond)+10, "the listener spun on EMFILE")
	assert.Less(t, cpuMS, wallMS/2+100, "the server burned CPU while paused")
	assert.Equal(t, fdsStart, fdsEnd, "the server's fds once its clients are gone")
	assert.Equal(t, fdsBase, fdsStopped, "the server's fds after its loop stopped")
}

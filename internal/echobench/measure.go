package echobench

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Result is one measurement of a server.
type Result struct {
	RoundTrips int64         // completed by the client in the window
	Wall       time.Duration // the window
	CPU        time.Duration // the server process's user plus system time in it
}

// PerSecond returns round trips per second.
func (r Result) PerSecond() float64 { return float64(r.RoundTrips) / r.Wall.Seconds() }

// CPUPerRoundTrip returns the server's CPU microseconds per round trip.
func (r Result) CPUPerRoundTrip() float64 {
	return float64(r.CPU.Nanoseconds()) / 1e3 / float64(r.RoundTrips)
}

// processCPU returns this process's user plus system CPU time.
func processCPU() (time.Duration, error) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("echobench: getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// taskset returns the path of taskset if it can pin the client to CPU 1
// (the machine has two CPUs or more), or "".
func taskset() string {
	if runtime.NumCPU() < 2 {
		return ""
	}
	p, err := exec.LookPath("taskset")
	if err != nil {
		return ""
	}
	return p
}

// ClientPinned reports whether [Measure] pins the client to CPU 1.
func ClientPinned() bool { return taskset() != "" }

// clientCommand returns the command that starts this executable as a
// client, under "taskset -c 1" when that can pin it to the other CPU.
func clientCommand() (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("echobench: finding this executable to run the client: %w", err)
	}
	if ts := taskset(); ts != "" {
		return exec.Command(ts, "-c", "1", self), nil
	}
	return exec.Command(self), nil
}

// Measure runs a client process against the echo server at addr (TCP)
// with conns connections for d, and returns what it measured. The server
// must run in this process: its CPU time is this process's.
func Measure(addr string, conns int, d time.Duration) (Result, error) {
	if conns < 1 || d <= 0 {
		return Result{}, fmt.Errorf("echobench: need at least one connection and a positive duration, got %d and %v", conns, d)
	}
	cmd, err := clientCommand()
	if err != nil {
		return Result{}, err
	}
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %d", clientEnv, addr, conns, d.Milliseconds()))
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.StdoutPipe()
	if err != nil {
		return Result{}, fmt.Errorf("echobench: client: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("echobench: starting the client: %w", err)
	}
	res, rerr := readClient(bufio.NewScanner(out))
	werr := cmd.Wait()
	switch {
	case werr != nil:
		return Result{}, fmt.Errorf("echobench: client with %d connections to %s: %w: %s", conns, addr, werr, strings.TrimSpace(errb.String()))
	case rerr != nil:
		return Result{}, fmt.Errorf("echobench: client with %d connections to %s: %w", conns, addr, rerr)
	}
	return res, nil
}

// readClient reads the client's two lines, taking the server's CPU time
// and the wall clock between them.
func readClient(sc *bufio.Scanner) (Result, error) {
	if !sc.Scan() || sc.Text() != "ready" {
		return Result{}, errors.New("the client did not report ready")
	}
	cpu0, err := processCPU()
	if err != nil {
		return Result{}, err
	}
	t0 := time.Now()
	if !sc.Scan() {
		return Result{}, errors.New("the client did not report its count")
	}
	cpu1, err := processCPU()
	if err != nil {
		return Result{}, err
	}
	res := Result{Wall: time.Since(t0), CPU: cpu1 - cpu0}
	if res.RoundTrips, err = strconv.ParseInt(strings.TrimSpace(sc.Text()), 10, 64); err != nil {
		return Result{}, fmt.Errorf("the client's count: %w", err)
	}
	if res.RoundTrips <= 0 {
		return Result{}, errors.New("no round trip completed")
	}
	// Drain anything else so the client never blocks writing.
	for sc.Scan() {
	}
	return res, nil
}

package evnet

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/loop"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// echoClientEnv makes the test binary an echo client: "addr conns ms".
const echoClientEnv = "EVNET_ECHO_CLIENT"

// runEchoClient opens conns connections to addr, runs 64-byte round trips
// on each for ms milliseconds and prints the total.
func runEchoClient(spec string) int {
	var addr string
	var conns, ms int
	if _, err := fmt.Sscan(spec, &addr, &conns, &ms); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var total atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	ready := make(chan error, conns)
	for range conns {
		wg.Go(func() {
			c, err := net.Dial("tcp", addr)
			ready <- err
			if err != nil {
				return
			}
			defer c.Close()
			msg, buf := make([]byte, 64), make([]byte, 64)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := c.Write(msg); err != nil {
					return
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				total.Add(1)
			}
		})
	}
	for range conns {
		if err := <-ready; err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	fmt.Println("ready")
	time.Sleep(time.Duration(ms) * time.Millisecond)
	n := total.Load()
	fmt.Println(n)
	close(stop)
	wg.Wait()
	return 0
}

// serverCPU returns the process's user plus system CPU time.
func serverCPU(b *testing.B) time.Duration {
	var ru unix.Rusage
	require.NoError(b, unix.Getrusage(unix.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measureEcho runs the client process against addr, pinned to CPU 1 when
// taskset exists, and reports round trips per second and server CPU
// microseconds per round trip.
func measureEcho(b *testing.B, addr string, conns int) {
	const ms = 2000
	args := []string{os.Args[0], "-test.run=^$"}
	name := args[0]
	if p, err := exec.LookPath("taskset"); err == nil {
		name, args = p, append([]string{"taskset", "-c", "1"}, args...)
	}
	cmd := exec.Command(name, args[1:]...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %d", echoClientEnv, addr, conns, ms))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(b, err)
	require.NoError(b, cmd.Start())
	sc := bufio.NewScanner(out)
	require.True(b, sc.Scan())
	require.Equal(b, "ready", sc.Text())
	cpu0, t0 := serverCPU(b), time.Now()
	require.True(b, sc.Scan())
	cpu, wall := serverCPU(b)-cpu0, time.Since(t0)
	n, err := strconv.ParseInt(strings.TrimSpace(sc.Text()), 10, 64)
	require.NoError(b, err)
	require.NoError(b, cmd.Wait())
	require.Positive(b, n)
	b.ReportMetric(float64(n)/wall.Seconds(), "rtt/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-us/rtt")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkEchoCPU is the echo comparison: 64-byte round trips
// from a client process on the other core, against an evnet echo server
// on 1 and 2 loop threads and a net-package server with a goroutine per
// connection, in the same run. It reports round trips per second and the
// server process's CPU per round trip (getrusage). Run it with
// -benchtime 1x: each case lasts 2 s whatever b.N.
func BenchmarkEchoCPU(b *testing.B) {
	for _, conns := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("server=net/threads=0/conns=%d", conns), func(b *testing.B) {
			nl, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(b, err)
			defer nl.Close()
			go func() {
				for {
					c, err := nl.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						buf := make([]byte, 64<<10)
						for {
							n, err := c.Read(buf)
							if err != nil {
								return
							}
							if _, err := c.Write(buf[:n]); err != nil {
								return
							}
						}
					}()
				}
			}()
			measureEcho(b, nl.Addr().String(), conns)
		})
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("server=evnet/threads=%d/conns=%d", threads, conns), func(b *testing.B) {
				l, err := loop.New(loop.Config{Threads: threads, Table: fdtable.New(4096)})
				require.NoError(b, err)
				ln, err := Listen(l, "tcp", "127.0.0.1:0", Options{Handler: &echoHandler{}})
				require.NoError(b, err)
				done := make(chan error, 1)
				go func() { done <- l.Run() }()
				measureEcho(b, ln.Addr().String(), conns)
				l.SoftStop()
				require.NoError(b, <-done)
			})
		}
	}
}

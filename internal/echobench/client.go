package echobench

import (
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// MsgSize is the size of each echoed message.
const MsgSize = 64

// clientEnv holds "ADDR CONNS MS" in a client process.
const clientEnv = "EVPOLL_ECHOBENCH_CLIENT"

// ClientMain runs the echo client and exits if this process was started
// as one by [Measure]; otherwise it returns at once.
func ClientMain() {
	if spec := os.Getenv(clientEnv); spec != "" {
		os.Exit(runClient(spec, os.Stdout, os.Stderr))
	}
}

// runClient opens the connections of spec, prints "ready" once all are
// open, runs round trips on each for the given time and prints how many
// completed. It returns the exit status.
func runClient(spec string, stdout, stderr io.Writer) int {
	var addr string
	var conns, ms int
	if _, err := fmt.Sscan(spec, &addr, &conns, &ms); err != nil {
		fmt.Fprintf(stderr, "echo client: bad %s %q: %v\n", clientEnv, spec, err)
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
			msg, buf := make([]byte, MsgSize), make([]byte, MsgSize)
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
	var derr error
	for range conns {
		if err := <-ready; err != nil && derr == nil {
			derr = err
		}
	}
	if derr != nil {
		close(stop)
		wg.Wait()
		fmt.Fprintf(stderr, "echo client: %v\n", derr)
		return 1
	}
	fmt.Fprintln(stdout, "ready")
	time.Sleep(time.Duration(ms) * time.Millisecond)
	fmt.Fprintln(stdout, total.Load())
	close(stop)
	wg.Wait()
	return 0
}

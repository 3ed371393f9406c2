package main

import (
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// stormChildArg, as the first argument, runs the program as the storm's
// child instead of a soak: stormChild.
const stormChildArg = "-debug-storm-child"

// stormReport is the child's last line: what it sent.
const stormReport = "sent SIGUSR1 %d SIGUSR2 %d SIGWINCH %d\n"

// stormChild sends signals to the soak (args: its pid and the rate per
// second) while its stdin last said '1', none after a '0', and on end of
// stdin prints what it sent and exits. One signal in two is SIGUSR1 to
// the process; the others, SIGUSR2 and SIGWINCH by turns, go to each of
// its threads in turn where the system can aim at a thread, so that the
// polling threads are interrupted in their waits, not only the thread the
// kernel picks for a process-wide signal.
func stormChild(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stderr, "soak: storm child: want pid and rate")
		return 2
	}
	pid, err1 := strconv.Atoi(args[0])
	rate, err2 := strconv.Atoi(args[1])
	if err1 != nil || err2 != nil || pid <= 1 || rate <= 0 {
		fmt.Fprintf(stderr, "soak: storm child: bad pid %q or rate %q\n", args[0], args[1])
		return 2
	}
	var on atomic.Bool
	eof := make(chan struct{})
	go func() {
		defer close(eof)
		var b [1]byte
		for {
			n, err := stdin.Read(b[:])
			if n == 1 {
				on.Store(b[0] == '1')
			}
			if err != nil {
				return
			}
		}
	}()
	var (
		sent  [3]int64 // SIGUSR1, SIGUSR2, SIGWINCH
		i     int64    // signals attempted
		base  int64    // i when the storm last went on
		start time.Time
	)
	tg := newThreadTargets(pid)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		var now time.Time
		select {
		case <-eof:
			fmt.Fprintf(stdout, stormReport, sent[0], sent[1], sent[2])
			return 0
		case now = <-tick.C:
		}
		if !on.Load() {
			start = time.Time{}
			continue
		}
		if start.IsZero() {
			start, base = now, i
		}
		due := base + int64(now.Sub(start).Seconds()*float64(rate)) - i
		for ; due > 0; due-- {
			var err error
			k := 0
			switch i % 4 {
			case 0, 2:
				err = unix.Kill(pid, syscall.SIGUSR1)
			case 1:
				k, err = 1, tg.kill(syscall.SIGUSR2)
			case 3:
				k, err = 2, tg.kill(syscall.SIGWINCH)
			}
			i++
			switch {
			case err == nil:
				sent[k]++
			case err == unix.ESRCH && k == 0:
				fmt.Fprintln(stderr, "soak: storm child: the soak is gone")
				return 1
			case err != unix.ESRCH: // a thread that just ended is not an error
				fmt.Fprintf(stderr, "soak: storm child: kill: %v\n", err)
				return 1
			}
		}
	}
}

package main

import (
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// threadTargets aims signals at each thread of a process in turn, from
// its /proc/PID/task listing, read again every 100 ms.
type threadTargets struct {
	pid  int
	tids []int
	next int
	read time.Time
}

func newThreadTargets(pid int) *threadTargets { return &threadTargets{pid: pid} }

// kill sends sig to the next thread (tgkill), or to the process if its
// threads cannot be listed.
func (tg *threadTargets) kill(sig syscall.Signal) error {
	if time.Since(tg.read) > 100*time.Millisecond {
		tg.read = time.Now()
		tg.tids = tg.tids[:0]
		ents, _ := os.ReadDir("/proc/" + strconv.Itoa(tg.pid) + "/task")
		for _, e := range ents {
			if tid, err := strconv.Atoi(e.Name()); err == nil {
				tg.tids = append(tg.tids, tid)
			}
		}
	}
	if len(tg.tids) == 0 {
		return unix.Kill(tg.pid, sig)
	}
	tg.next = (tg.next + 1) % len(tg.tids)
	return unix.Tgkill(tg.pid, tg.tids[tg.next], sig)
}

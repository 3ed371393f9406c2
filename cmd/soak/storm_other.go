//go:build !linux

package main

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// threadTargets sends to the process: aiming at one thread is done on
// Linux only.
type threadTargets struct{ pid int }

func newThreadTargets(pid int) *threadTargets { return &threadTargets{pid: pid} }

func (tg *threadTargets) kill(sig syscall.Signal) error { return unix.Kill(tg.pid, sig) }

//go:build darwin || freebsd || openbsd || dragonfly

package kqueue

import "golang.org/x/sys/unix"

// hasReceipt: the kernel has EV_RECEIPT.
const hasReceipt = true

var _ = [1]int{}[unix.EV_RECEIPT^int(EvReceipt)]

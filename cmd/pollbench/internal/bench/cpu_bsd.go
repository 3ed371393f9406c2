//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package bench

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// cpuModel returns the CPU's name as sysctl reports it, or "".
func cpuModel() string {
	key := "hw.model"
	if runtime.GOOS == "darwin" {
		key = "machdep.cpu.brand_string"
	}
	s, err := unix.Sysctl(key)
	if err != nil {
		return ""
	}
	return s
}

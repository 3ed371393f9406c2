package bench

import (
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// thisMachine describes the machine the run takes place on.
func thisMachine() Machine {
	m := Machine{
		GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPU: cpuModel(), Cores: runtime.NumCPU(),
		GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0),
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = strings.TrimSpace(unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:]))
	}
	return m
}

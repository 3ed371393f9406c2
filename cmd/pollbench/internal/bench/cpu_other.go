//go:build unix && !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd

package bench

// cpuModel returns "": this system has no portable way to name its CPU
// that x/sys offers.
func cpuModel() string { return "" }

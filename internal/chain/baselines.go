package chain

import (
	"fmt"
	"slices"
	"strings"
)

// Names of the baselines.
const (
	// RawEpoll is the workload written directly over epoll (Linux only).
	RawEpoll = "raw-epoll"
	// RawPoll is the workload written directly over poll(2).
	RawPoll = "raw-poll"
	// Netpoller is the workload on Go's runtime netpoller, one goroutine
	// per fd.
	Netpoller = "netpoller"
)

// baselines maps each baseline of this system to its constructor, in the
// order Baselines lists them.
var baselines = append(rawEpollBaseline, []baseline{
	{RawPoll, newRawPoll},
	{Netpoller, newNetpoller},
}...)

type baseline struct {
	name string
	new  func(Config) (Runner, error)
}

// Baselines returns the names of the baselines this system has, the
// fastest kind of loop first.
func Baselines() []string {
	names := make([]string, len(baselines))
	for i, b := range baselines {
		names[i] = b.name
	}
	return names
}

// IsBaseline reports whether name is one of this system's baselines.
func IsBaseline(name string) bool { return slices.Contains(Baselines(), name) }

// NewBaseline sets up the workload on the baseline called name.
func NewBaseline(name string, cfg Config) (Runner, error) {
	i := slices.IndexFunc(baselines, func(b baseline) bool { return b.name == name })
	if i < 0 {
		return nil, fmt.Errorf("chain: unknown baseline %q (this system has %s)", name, strings.Join(Baselines(), ", "))
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return baselines[i].new(cfg)
}

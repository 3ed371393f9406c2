//go:build darwin || freebsd || netbsd || openbsd || dragonfly || linux

package kqueue

import (
	"os"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
)

// Name is the backend's registered name.
const Name = "kqueue"

const staticFlags = poller.FlagRDHUP | poller.FlagERRHUP | poller.FlagFork | poller.FlagBusyPoll

// NewBackend returns the kqueue registration record over kernel k, named
// name. Backend is NewBackend(System, Name) on the systems that have
// kqueue; the tests build one over an emulation of the kernel interface.
// Instances whose queues implement Lister also implement
// poller.Introspector.
func NewBackend(k Kernel, name string) poller.Backend {
	return poller.Backend{
		Name:       name,
		Preference: 300,
		Flags:      staticFlags,
		Test: func(*fdtable.Table) error {
			q, err := k.Kqueue()
			if err != nil {
				return os.NewSyscallError("kqueue", err)
			}
			return q.Close()
		},
		New: func(ctx *poller.Context) (poller.Poller, error) {
			p, err := newPoller(ctx, k, name)
			if err != nil {
				return nil, err
			}
			if _, ok := p.q.(Lister); ok {
				return introspected{p}, nil
			}
			return p, nil
		},
	}
}

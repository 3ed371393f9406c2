//go:build darwin || freebsd || netbsd || openbsd || dragonfly || linux

package kqueue

import (
	"github.com/evpoll/evpoll/internal/construct"
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
		Test:       construct.OpenClose("kqueue", k.Kqueue),
		New: construct.Wrapped(func(ctx *poller.Context) (*Poller, error) { return newPoller(ctx, k, name) },
			func(p *Poller) poller.Poller {
				if _, ok := p.q.(Lister); ok {
					return introspected{p}
				}
				return p
			}),
	}
}

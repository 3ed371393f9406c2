//go:build solaris || linux

package evports

import (
	"time"

	"github.com/evpoll/evpoll/internal/construct"
	"github.com/evpoll/evpoll/poller"
)

// Name is the backend's registered name.
const Name = "evports"

const staticFlags = poller.FlagERRHUP | poller.FlagFork | poller.FlagBusyPoll

// NewBackend returns the evports registration record over kernel k, named
// name. Backend is NewBackend(System, Name) on illumos and Solaris; the
// tests build one over an emulation of event ports. Instances whose ports
// implement Lister also implement poller.Introspector.
func NewBackend(k Kernel, name string) poller.Backend {
	return poller.Backend{
		Name:       name,
		Preference: 300,
		Flags:      staticFlags,
		Test:       construct.OpenClose("port_create", k.PortCreate),
		New: construct.Wrapped(func(ctx *poller.Context) (*Poller, error) { return newPoller(ctx, k, name) },
			func(p *Poller) poller.Poller {
				if _, ok := p.cur().(Lister); ok {
					return introspected{p}
				}
				return p
			}),
	}
}

// timeout converts a wait in milliseconds (negative: no limit) into
// port_getn's timeout.
func timeout(ms int) time.Duration {
	if ms < 0 {
		return -1
	}
	return time.Duration(ms) * time.Millisecond
}

//go:build darwin || freebsd || netbsd || openbsd || dragonfly || linux

package kqueue

import "github.com/evpoll/evpoll/poller"

// SetWakerVariant makes p's waker use EVFILT_USER (user) or a pipe,
// whatever the OS default, so that both run over the emulation.
func SetWakerVariant(p *Poller, user bool) (*Waker, error) {
	w, err := newWaker(p, user)
	if err != nil {
		return nil, err
	}
	p.waker = w
	return w, nil
}

// PollerOf returns the *Poller behind what Backend.New returned.
func PollerOf(p interface{ Flags() poller.Flags }) *Poller {
	switch p := p.(type) {
	case *Poller:
		return p
	case introspected:
		return p.Poller
	}
	return nil
}

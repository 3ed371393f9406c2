//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package kqueue

import "github.com/evpoll/evpoll/poller"

func init() { poller.Register(Backend) }

//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package pollers

import (
	_ "github.com/evpoll/evpoll/pollers/kqueue" // registers "kqueue"
)

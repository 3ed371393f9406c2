package pollers

import (
	_ "github.com/evpoll/evpoll/pollers/epoll"  // registers "epoll"
	_ "github.com/evpoll/evpoll/pollers/poll"   // registers "poll"
	_ "github.com/evpoll/evpoll/pollers/select" // registers "select"
)

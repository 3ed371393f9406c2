package pollers

import (
	_ "github.com/evpoll/evpoll/pollers/epoll" // registers "epoll"
)

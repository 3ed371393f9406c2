package pollers

import (
	_ "github.com/evpoll/evpoll/pollers/evports" // registers "evports"
)

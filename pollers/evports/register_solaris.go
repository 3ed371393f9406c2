package evports

import "github.com/evpoll/evpoll/poller"

func init() { poller.Register(Backend) }

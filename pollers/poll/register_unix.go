//go:build unix

package poll

import (
	"github.com/evpoll/evpoll/internal/construct"
	"github.com/evpoll/evpoll/poller"
)

// Name is the backend's registered name.
const Name = "poll"

const staticFlags = poller.FlagERRHUP

// Backend is the poll registration record. Its Test always passes: poll
// needs no kernel object and has no fd limit of its own.
var Backend = poller.Backend{
	Name:       Name,
	Preference: 200,
	Flags:      staticFlags,
	New:        construct.New(New),
}

func init() { poller.Register(Backend) }

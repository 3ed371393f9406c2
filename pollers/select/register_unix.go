//go:build unix

package selectpoll

import (
	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/internal/construct"
	"github.com/evpoll/evpoll/poller"
)

// Name is the backend's registered name.
const Name = "select"

// Backend is the select registration record. Its Test fails, wrapping
// [ErrFDSetSize], when the table can hold fds at or above FD_SETSIZE.
var Backend = poller.Backend{
	Name:       Name,
	Preference: 150,
	Flags:      0,
	Test:       test,
	New:        construct.New(New),
}

func init() { poller.Register(Backend) }

// test is HAProxy's select _do_test: select can serve the table only if
// every fd it can hold is below FD_SETSIZE. A nil table is judged as the
// default table (fdtable.New(0)) would be.
func test(tab *fdtable.Table) error {
	if tab == nil {
		tab = fdtable.New(0)
	}
	return checkTable(tab)
}

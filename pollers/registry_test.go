//go:build unix

package pollers_test

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
	_ "github.com/evpoll/evpoll/pollers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// backendsByGOOS is what importing package pollers registers on each
// supported system, best first. The emulated kqueue and evports backends
// the Linux tests use are never registered.
var backendsByGOOS = map[string][]string{
	"linux":     {"epoll", "poll", "select"},
	"darwin":    {"kqueue", "poll", "select"},
	"freebsd":   {"kqueue", "poll", "select"},
	"netbsd":    {"kqueue", "poll", "select"},
	"openbsd":   {"kqueue", "poll", "select"},
	"dragonfly": {"kqueue", "poll", "select"},
	"illumos":   {"evports", "poll", "select"},
	"solaris":   {"evports", "poll", "select"},
}

func TestRegistryHasThisSystemsBackends(t *testing.T) {
	want, ok := backendsByGOOS[runtime.GOOS]
	require.True(t, ok, "no expected backends for GOOS %s", runtime.GOOS)
	var got []string
	for _, b := range poller.Backends() {
		got = append(got, b.Name)
	}
	assert.Equal(t, want, got, "registered backends in selection order")
}

// TestListingOnThisSystem: the -vv listing names this system's backends in
// preference order and picks the first.
func TestListingOnThisSystem(t *testing.T) {
	want := backendsByGOOS[runtime.GOOS]
	prefs := map[string]int{"epoll": 300, "kqueue": 300, "evports": 300, "poll": 200, "select": 150}
	var exp bytes.Buffer
	exp.WriteString("Available polling systems :\n")
	for _, name := range want {
		fmt.Fprintf(&exp, " %10s : pref=%3d,  test result OK\n", name, prefs[name])
	}
	fmt.Fprintf(&exp, "Total: %d (%d usable), will use %s.\n", len(want), len(want), want[0])
	// The listing reads the environment (CI runs the tests once per
	// backend with EVPOLL_POLLER set): clear it for this test.
	for _, k := range []string{"EVPOLL_POLLER", "EVPOLL_DISABLE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	var buf bytes.Buffer
	require.NoError(t, poller.WriteList(&buf, fdtable.New(1024)))
	assert.Equal(t, exp.String(), buf.String())
}

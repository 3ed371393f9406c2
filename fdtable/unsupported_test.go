package fdtable_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUnsupportedOSFailsWithOneLine: building the library for a system
// without unix polling stops at fdtable with one line that names the
// supported systems, not with a screen of undefined x/sys/unix names.
func TestUnsupportedOSFailsWithOneLine(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles the library")
	}
	goTool, err := exec.LookPath("go")
	require.NoError(t, err, "the go command")
	for _, target := range [][2]string{{"windows", "amd64"}, {"plan9", "amd64"}, {"js", "wasm"}, {"wasip1", "wasm"}} {
		cmd := exec.Command(goTool, "build", "../fdtable", "../poller", "../pollers/...")
		cmd.Env = append(os.Environ(), "GOOS="+target[0], "GOARCH="+target[1], "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		require.Error(t, err, "%s build succeeded", target[0])
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
		assert.Len(t, lines, 1, "%s: build output:\n%s", target[0], out)
		assert.Contains(t, string(out), "evpoll needs a unix system", target[0])
	}
}

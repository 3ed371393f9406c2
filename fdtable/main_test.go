package fdtable_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	flag.Parse()
	// rapid writes reproduction files under testdata/ on failure; the seed
	// it prints (-rapid.seed) reproduces a failure as well, without leaving
	// files in the source tree. -rapid.nofailfile=false brings them back.
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "rapid.nofailfile" })
	if !explicit {
		flag.Set("rapid.nofailfile", "true")
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

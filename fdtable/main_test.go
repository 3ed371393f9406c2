package fdtable_test

import (
	"flag"
	"os"
	"testing"
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
	os.Exit(m.Run())
}

package conformance_test

import (
	"flag"
	"fmt"
	"testing"

	"github.com/evpoll/evpoll/conformance"
	"github.com/evpoll/evpoll/poller"
	"github.com/evpoll/evpoll/pollers/poll"
)

// A third-party backend registers itself and passes the suite. Here the
// "third party" wraps evpoll's own poll(2) backend under another name; a
// real one would implement poller.Poller itself. In the backend's test
// file, the last step is simply
//
//	func TestConformance(t *testing.T) { conformance.Run(t, Backend) }
//
// This example runs the same thing through testing.RunTests, so that it
// can print the verdict.
func ExampleRun() {
	backend := poller.Backend{
		Name:       "thirdparty",
		Preference: 1,
		Flags:      poller.FlagERRHUP,
		New: func(ctx *poller.Context) (poller.Poller, error) {
			return poll.New(ctx)
		},
	}
	poller.Register(backend) // normally from the package's init

	// Keep the suite's own progress lines out of the example's output.
	if v := flag.Lookup("test.v"); v != nil {
		old := v.Value.String()
		v.Value.Set("false")
		defer v.Value.Set(old)
	}
	ok := testing.RunTests(func(string, string) (bool, error) { return true, nil },
		[]testing.InternalTest{{Name: "TestConformance", F: func(t *testing.T) {
			conformance.Run(t, backend)
		}}})
	fmt.Println("conformance passed:", ok)
	// Output:
	// conformance passed: true
}

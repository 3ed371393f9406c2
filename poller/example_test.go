package poller_test

import (
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/poller"
)

// nopPoller is a do-nothing poller instance for the examples.
type nopPoller struct{}

func (nopPoller) Poll(poller.Tick, bool) error { return nil }
func (nopPoller) Closing(int, uint32, bool)    {}
func (nopPoller) Fork() error                  { return nil }
func (nopPoller) Close() error                 { return nil }
func (nopPoller) Flags() poller.Flags          { return 0 }

func newNop(*poller.Context) (poller.Poller, error) { return nopPoller{}, nil }

// A backend package registers itself from init; importing the package
// makes the backend available.
func init() {
	poller.Register(poller.Backend{
		Name:       "example",
		Preference: 10,
		Flags:      poller.FlagERRHUP,
		New:        newNop,
	})
	poller.Register(poller.Backend{
		Name:       "broken",
		Preference: 20,
		Test:       func(*fdtable.Table) error { return errors.New("not on this machine") },
		New: func(*poller.Context) (poller.Poller, error) {
			return nil, errors.New("broken: not on this machine")
		},
	})
}

func ExampleRegister() {
	b, err := poller.Lookup("example")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(b.Name, b.Preference, b.Flags)

	_, err = poller.Lookup("kqueue")
	fmt.Println(err)
	// Output:
	// example 10 ERRHUP
	// poller: unknown backend "kqueue" (forgotten import?)
}

func ExampleWriteList() {
	// The listing of this test binary's registry: "example" and
	// "broken" (see init above), before any environment override.
	if err := poller.WriteList(os.Stdout, fdtable.New(4096)); err != nil {
		log.Fatal(err)
	}
	// Output:
	// Available polling systems :
	//      broken : pref= 20,  test result FAILED
	//     example : pref= 10,  test result OK
	// Total: 2 (1 usable), will use example.
}

func ExampleOpen() {
	tab := fdtable.New(1024)
	th, err := tab.NewThread(0)
	if err != nil {
		log.Fatal(err)
	}
	defer th.Close()
	ctx := poller.NewContext(th)

	// broken has the higher preference but its constructor
	// fails: Open falls back to the next backend.
	b, p, err := poller.Open(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	fmt.Println("using", b.Name)
	// Output:
	// using example
}

func ExampleTick_Add() {
	now := poller.Tick(0xfffffff6) // 10 ms before the 32-bit wrap
	exp := now.Add(10)             // the sum is 0, bumped: never Eternity
	fmt.Println(exp, exp.IsSet())
	fmt.Println(now.Before(exp), exp.IsExpired(now), exp.Remain(now))
	later := now.Add(20)
	fmt.Println(later, exp.Before(later), exp.IsExpired(later))
	// Output:
	// 1 true
	// true false 11
	// 10 true true
}

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
func (nopPoller) Clo(int, bool)                {}
func (nopPoller) Fork() error                  { return nil }
func (nopPoller) Term() error                  { return nil }
func (nopPoller) Flags() poller.Flags          { return 0 }

func newNop(*poller.Context) (poller.Poller, error) { return nopPoller{}, nil }

// noEnv is an empty environment, so that the examples' output does not
// depend on EVPOLL_POLLER or EVPOLL_DISABLE.
func noEnv(string) (string, bool) { return "", false }

// A backend package registers itself from init; importing the package
// makes the backend available.
func init() {
	poller.Register(poller.Backend{
		Name:  "example",
		Pref:  10,
		Flags: poller.FlagERRHUP,
		New:   newNop,
	})
}

func ExampleRegister() {
	b, err := poller.Lookup("example")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(b.Name, b.Pref, b.Flags)

	_, err = poller.Lookup("kqueue")
	fmt.Println(err)
	// Output:
	// example 10 ERRHUP
	// poller: unknown backend "kqueue" (forgotten import?)
}

func ExampleRegistry_WriteList() {
	r := new(poller.Registry)
	r.Register(poller.Backend{Name: "epoll", Pref: 300, Flags: poller.FlagERRHUP, New: newNop})
	r.Register(poller.Backend{Name: "poll", Pref: 200, Flags: poller.FlagERRHUP, New: newNop})
	r.Register(poller.Backend{
		Name: "select",
		Pref: 150,
		// select cannot watch fds at or above FD_SETSIZE.
		Test: func(tab *fdtable.Table) error {
			if tab.MaxFDs() > 1024 {
				return errors.New("table larger than FD_SETSIZE")
			}
			return nil
		},
		New: newNop,
	})
	if err := r.Disable("poll"); err != nil {
		log.Fatal(err)
	}
	if err := r.WriteList(os.Stdout, fdtable.New(4096), noEnv); err != nil {
		log.Fatal(err)
	}
	// Output:
	// Available polling systems :
	//       epoll : pref=300,  test result OK
	//      select : pref=150,  test result FAILED
	//        poll : disabled,  test result OK
	// Total: 3 (1 usable), will use epoll.
}

func ExampleRegistry_Open() {
	r := new(poller.Registry)
	r.Register(poller.Backend{Name: "poll", Pref: 200, New: newNop})
	r.Register(poller.Backend{Name: "epoll", Pref: 300, New: func(*poller.Context) (poller.Poller, error) {
		return nil, errors.New("epoll_create1: too many open files")
	}})

	tab := fdtable.New(1024)
	th, err := tab.NewThread(0)
	if err != nil {
		log.Fatal(err)
	}
	defer th.Close()
	ctx := poller.NewContext(th)

	// epoll has the higher preference but fails: Open falls back to poll.
	b, p, err := r.Open(ctx, noEnv)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Term()
	fmt.Println("using", b.Name)

	// EVPOLL_POLLER forces a backend; its failure is not replaced.
	env := func(k string) (string, bool) {
		if k == poller.EnvPoller {
			return "epoll", true
		}
		return "", false
	}
	_, _, err = r.Open(ctx, env)
	fmt.Println(err)
	// Output:
	// using poll
	// poller: no polling mechanism available: epoll: epoll_create1: too many open files
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

package chain_test

import (
	"fmt"

	"github.com/evpoll/evpoll/internal/chain"
)

// One round on the hand-written poll(2) loop: 10 pipes, 2 of them made
// readable, 8 chained writes, so 10 read events.
func ExampleNewBaseline() {
	r, err := chain.NewBaseline(chain.RawPoll, chain.Config{FDs: 10, Active: 2, Writes: 8, Kind: chain.Pipe})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	n, err := r.Round()
	fmt.Println(n, err, r.(chain.Counter).Counts().Reads)
	// Output: 10 <nil> 10
}

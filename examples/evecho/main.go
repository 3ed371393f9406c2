package main

import (
	"os"

	"github.com/evpoll/evpoll/evnet"
	"github.com/evpoll/evpoll/examples/internal/cli"
)

func main() { os.Exit(program.Run(os.Args[1:], os.Stdout, os.Stderr)) }

var program = cli.Program{
	Name: "evecho",
	Options: func() evnet.Options {
		return evnet.Options{Handler: echo{}}
	},
}

// echo writes back what it reads; evnet buffers what the client does not
// take at once and stops reading while that buffer is over its high-water
// mark.
type echo struct{}

func (echo) OnOpen(*evnet.Conn)             {}
func (echo) OnData(c *evnet.Conn, p []byte) { c.Write(p) }
func (echo) OnWritable(*evnet.Conn)         {}
func (echo) OnClose(*evnet.Conn, error)     {}

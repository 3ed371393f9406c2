package main

import (
	"errors"
	"flag"
	"os"
	"time"

	"github.com/evpoll/evpoll/evnet"
	"github.com/evpoll/evpoll/examples/internal/cli"
)

func main() { os.Exit(newProgram().Run(os.Args[1:], os.Stdout, os.Stderr)) }

func newProgram() cli.Program {
	var idle, headTO time.Duration
	var maxHead int
	return cli.Program{
		Name: "httpd",
		Flags: func(fs *flag.FlagSet) {
			fs.DurationVar(&idle, "idle", 5*time.Second, "close connections idle this long")
			fs.DurationVar(&headTO, "header-timeout", 10*time.Second, "close connections that take longer to send a request head")
			fs.IntVar(&maxHead, "max-header", 8192, "largest request head in `bytes`; larger ones get 431")
		},
		Check: func() error {
			if idle <= 0 {
				return errors.New("-idle: want a positive duration")
			}
			if headTO <= 0 {
				return errors.New("-header-timeout: want a positive duration")
			}
			if maxHead < 64 {
				return errors.New("-max-header: want at least 64")
			}
			return nil
		},
		Options: func() evnet.Options {
			return evnet.Options{
				Handler:     handler{maxHead: maxHead, headTO: headTO},
				IdleTimeout: idle,
			}
		},
	}
}

// handler serves every connection; its state is a session in the
// connection's context.
type handler struct {
	maxHead int
	headTO  time.Duration
}

func (h handler) OnOpen(c *evnet.Conn) {
	c.SetContext(&session{maxHead: h.maxHead})
}

func (h handler) OnData(c *evnet.Conn, p []byte) {
	s := c.Context().(*session)
	defer func() {
		// A head that arrives in pieces must be complete within the
		// header timeout, however slowly the pieces come (slowloris);
		// the idle timeout alone would be pushed back by every byte.
		if partial := len(s.in) > 0; partial != s.timed {
			s.timed = partial
			if partial {
				c.SetDeadline(h.headTO)
			} else {
				c.SetDeadline(0)
			}
		}
	}()
	if s.feed(p, func(b []byte) { c.Write(b) }) {
		// Shut our side once the responses are written and discard what
		// the client still sends until it closes (or the idle timeout):
		// closing with unread input would make the kernel reset the
		// connection, and the client could lose the last response.
		c.CloseWrite()
	}
}

func (handler) OnWritable(*evnet.Conn)     {}
func (handler) OnClose(*evnet.Conn, error) {}

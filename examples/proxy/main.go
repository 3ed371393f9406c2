package main

import (
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"time"

	"github.com/evpoll/evpoll/evnet"
	"github.com/evpoll/evpoll/examples/internal/cli"
)

func main() { os.Exit(newProgram().Run(os.Args[1:], os.Stdout, os.Stderr)) }

func newProgram() cli.Program {
	var cfg config
	return cli.Program{
		Name: "proxy",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&cfg.to, "to", "", "backend `HOST:PORT` to relay connections to (required)")
			fs.IntVar(&cfg.buffer, "buffer", 256<<10, "output `bytes` buffered for a side before reading from the other pauses")
			fs.DurationVar(&cfg.connectTimeout, "connect-timeout", 5*time.Second, "how long a backend connect may take")
		},
		Check: func() error {
			if _, _, err := net.SplitHostPort(cfg.to); err != nil || cfg.to == "" {
				return errors.New("-to: want HOST:PORT")
			}
			if cfg.buffer <= 0 {
				return errors.New("-buffer: want a positive size")
			}
			if cfg.connectTimeout <= 0 {
				return errors.New("-connect-timeout: want a positive duration")
			}
			return nil
		},
		Options: func() evnet.Options {
			return evnet.Options{Handler: client{&cfg}}
		},
	}
}

type config struct {
	to             string
	buffer         int
	connectTimeout time.Duration
}

// pair is one relayed connection: the client's side and the backend's.
// Both are on the same thread, so no lock is needed.
type pair struct {
	cfg             *config
	client, backend *evnet.Conn
}

// peer returns the other side of c.
func (p *pair) peer(c *evnet.Conn) *evnet.Conn {
	if c == p.client {
		return p.backend
	}
	return p.client
}

// client handles the accepted side, backend the dialed side; the relay
// is the same in both directions.
type (
	client  struct{ cfg *config }
	backend struct{}
)

func (h client) OnOpen(c *evnet.Conn) {
	p := &pair{cfg: h.cfg, client: c}
	c.SetContext(p)
	b, err := evnet.Dial(c.Thread().Loop(), c.Thread(), "tcp", h.cfg.to, h.cfg.connectTimeout, backend{})
	if err != nil {
		c.Abort()
		return
	}
	p.backend = b
	b.SetContext(p)
	b.SetHighWater(h.cfg.buffer)
	c.SetHighWater(h.cfg.buffer)
}

func (backend) OnOpen(*evnet.Conn) {}

func (client) OnData(c *evnet.Conn, data []byte)  { relay(c, data) }
func (backend) OnData(c *evnet.Conn, data []byte) { relay(c, data) }
func (client) OnEOF(c *evnet.Conn)                { passEOF(c) }
func (backend) OnEOF(c *evnet.Conn)               { passEOF(c) }
func (client) OnWritable(c *evnet.Conn)           { drained(c) }
func (backend) OnWritable(c *evnet.Conn)          { drained(c) }
func (client) OnClose(c *evnet.Conn, err error)   { closed(c, err) }
func (backend) OnClose(c *evnet.Conn, err error)  { closed(c, err) }

// relay writes what c read to its peer and stops reading c while the
// peer's output is over the limit.
func relay(c *evnet.Conn, data []byte) {
	p := c.Context().(*pair)
	out := p.peer(c)
	if out == nil {
		return
	}
	if _, err := out.Write(data); err != nil {
		c.Abort()
		return
	}
	if out.Buffered() > p.cfg.buffer {
		c.PauseRead()
	}
}

// drained resumes reading the peer of a connection whose output is written.
func drained(c *evnet.Conn) {
	if in := c.Context().(*pair).peer(c); in != nil {
		in.ResumeRead()
	}
}

// passEOF passes a FIN on: the peer's write side is shut once its output
// is written.
func passEOF(c *evnet.Conn) {
	if out := c.Context().(*pair).peer(c); out != nil {
		out.CloseWrite()
	}
}

// closed ends the peer: orderly after an orderly close, with a reset
// after an error (a reset, a timeout, a refused connect).
func closed(c *evnet.Conn, err error) {
	p, _ := c.Context().(*pair)
	if p == nil {
		return
	}
	out := p.peer(c)
	if out == nil {
		return
	}
	if err == nil || errors.Is(err, io.EOF) {
		out.Close()
	} else {
		out.Abort()
	}
}

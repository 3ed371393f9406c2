package evnet_test

import (
	"fmt"
	"io"
	"log"
	"net"

	"github.com/evpoll/evpoll/evnet"
	"github.com/evpoll/evpoll/loop"
	_ "github.com/evpoll/evpoll/pollers" // every backend of this OS
)

// upper answers every read with the same bytes in upper case.
type upper struct{}

func (upper) OnOpen(*evnet.Conn) {}
func (upper) OnData(c *evnet.Conn, p []byte) {
	for i, b := range p {
		if 'a' <= b && b <= 'z' {
			p[i] = b - 'a' + 'A' // p is the thread's read buffer: ours until we return
		}
	}
	c.Write(p)
}
func (upper) OnWritable(*evnet.Conn)     {}
func (upper) OnClose(*evnet.Conn, error) {}

// A server on two loop threads, a net client, and a soft stop.
func Example() {
	l, err := loop.New(loop.Config{Threads: 2})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := evnet.Listen(l, "tcp", "127.0.0.1:0", evnet.Options{Handler: upper{}})
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- l.Run() }()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	c.Write([]byte("hello, loop"))
	reply := make([]byte, 11)
	io.ReadFull(c, reply)
	fmt.Println(string(reply))
	c.Close()

	l.SoftStop() // closes the listener; Run returns once the connection is gone
	fmt.Println(<-done)
	// Output:
	// HELLO, LOOP
	// <nil>
}

package evnet

import (
	"fmt"
	"net"
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/loop"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// rawClient connects a blocking socket to ln without the net package, so
// that a round trip allocates nothing on the client side either.
func rawClient(t testing.TB, ln *Listener) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, unix.Connect(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port}))
	require.NoError(t, unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1))
	return fd
}

// echoOnce writes msg on fd and reads it back.
func echoOnce(fd int, msg, buf []byte) error {
	if _, err := unix.Write(fd, msg); err != nil {
		return err
	}
	for got := 0; got < len(msg); {
		n, err := unix.Read(fd, buf[got:len(msg)])
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("EOF after %d bytes", got)
		}
		got += n
	}
	return nil
}

// TestEchoAllocatesNothing: once a connection is open, an echoed message
// costs no allocation anywhere in the process (loop, evnet, client).
func TestEchoAllocatesNothing(t *testing.T) {
	checkFDs(t)
	var ln *Listener
	r := startLoop(t, 1, func(l *loop.Loop) {
		var err error
		ln, err = Listen(l, "tcp", "127.0.0.1:0", Options{Handler: &echoHandler{}, IdleTimeout: 1e12})
		require.NoError(t, err)
	})
	fd := rawClient(t, ln)
	msg, buf := make([]byte, 64), make([]byte, 64)
	for range 100 { // warm up: first buffers, timer task
		require.NoError(t, echoOnce(fd, msg, buf))
	}
	var err error
	allocs := testing.AllocsPerRun(2000, func() {
		if e := echoOnce(fd, msg, buf); e != nil {
			err = e
		}
	})
	require.NoError(t, err)
	assert.Zero(t, allocs, "allocations per echoed message")
	unix.Close(fd)
	r.softStop(t)
}

// BenchmarkEcho: 64-byte round trips through an evnet echo server on one
// loop thread, against the same client talking to a net-package server.
func BenchmarkEcho(b *testing.B) {
	b.Run("server=evnet", func(b *testing.B) {
		l, err := loop.New(loop.Config{Threads: 1, Table: fdtable.New(1024)})
		require.NoError(b, err)
		ln, err := Listen(l, "tcp", "127.0.0.1:0", Options{Handler: &echoHandler{}})
		require.NoError(b, err)
		done := make(chan error, 1)
		go func() { done <- l.Run() }()
		fd := rawClient(b, ln)
		msg, buf := make([]byte, 64), make([]byte, 64)
		b.ReportAllocs()
		for b.Loop() {
			if err := echoOnce(fd, msg, buf); err != nil {
				b.Fatal(err)
			}
		}
		unix.Close(fd)
		l.SoftStop()
		require.NoError(b, <-done)
	})
	b.Run("server=net", func(b *testing.B) {
		nl, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(b, err)
		defer nl.Close()
		go func() {
			for {
				c, err := nl.Accept()
				if err != nil {
					return
				}
				go func() {
					buf := make([]byte, 64<<10)
					for {
						n, err := c.Read(buf)
						if err != nil {
							c.Close()
							return
						}
						c.Write(buf[:n])
					}
				}()
			}
		}()
		port := nl.Addr().(*net.TCPAddr).Port
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		require.NoError(b, err)
		require.NoError(b, unix.Connect(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port}))
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		msg, buf := make([]byte, 64), make([]byte, 64)
		b.ReportAllocs()
		for b.Loop() {
			if err := echoOnce(fd, msg, buf); err != nil {
				b.Fatal(err)
			}
		}
		unix.Close(fd)
	})
}

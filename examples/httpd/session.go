package main

import (
	"bytes"
	"strconv"
)

// body is the fixed body of GET /.
const body = "hello from evpoll\n"

// Canned responses.
var (
	resp200 = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	resp200Head  = resp200[:len(resp200)-len(body)]
	resp200Close = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	resp404 = []byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
	resp400 = []byte("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
	resp431 = []byte("HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
)

// session is one connection's parser state, independent of the network so
// that the fuzz target drives it directly.
type session struct {
	in       []byte // an incomplete request head, kept between reads
	skip     int64  // request body bytes still to discard
	maxHead  int
	finished bool // a response that closes was sent: ignore the rest
	timed    bool // the header deadline is set
}

// feed consumes data and writes the responses it calls for through
// write. It returns true once the connection must be closed after what
// was written.
func (s *session) feed(data []byte, write func([]byte)) bool {
	if s.finished {
		return true
	}
	buf := data
	if len(s.in) > 0 {
		s.in = append(s.in, data...)
		buf = s.in
	}
	for len(buf) > 0 {
		if s.skip > 0 {
			n := min(s.skip, int64(len(buf)))
			s.skip -= n
			buf = buf[n:]
			continue
		}
		r, err := parseRequest(buf, s.maxHead)
		switch err {
		case errIncomplete:
			// Keep the partial head; copy it unless it is already s.in.
			if len(s.in) == 0 || &buf[0] != &s.in[0] {
				s.in = append(s.in[:0], buf...)
			}
			return false
		case errMalformed:
			write(resp400)
			s.finished = true
			return true
		case errTooLarge:
			write(resp431)
			s.finished = true
			return true
		}
		buf = buf[r.headLen:]
		s.skip = r.bodyLen
		switch {
		case !bytes.Equal(r.target, []byte("/")):
			write(resp404)
		case bytes.Equal(r.method, []byte("HEAD")):
			write(resp200Head)
		case !r.keepAlive:
			write(resp200Close)
		default:
			write(resp200)
		}
		if !r.keepAlive {
			s.finished = true
			return true
		}
	}
	s.in = s.in[:0]
	return false
}

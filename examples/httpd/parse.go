package main

import (
	"bytes"
	"errors"
)

// Parse results other than a complete request.
var (
	errIncomplete = errors.New("incomplete request")
	errMalformed  = errors.New("malformed request")        // answered 400
	errTooLarge   = errors.New("request header too large") // answered 431
)

// request is what the responder needs from a request head.
type request struct {
	method    []byte
	target    []byte
	minor     int // HTTP/1.minor
	keepAlive bool
	bodyLen   int64
	headLen   int // bytes of the request line and headers, final CRLF included
}

var crlf = []byte("\r\n")

// parseRequest parses the request head at the start of buf. It returns
// errIncomplete if buf holds no complete head yet (and is under max
// bytes), errTooLarge if the head is (or would be) over max bytes, and
// errMalformed for anything that is not HTTP/1.0 or 1.1 with at most one
// valid Content-Length and no Transfer-Encoding. The slices in the
// request point into buf.
func parseRequest(buf []byte, max int) (request, error) {
	var r request
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	// A bare LF in the head is refused first, looking no further than
	// the head or max+1 bytes, so that the answer is the same however
	// the bytes were split across reads.
	scan := buf[:min(len(buf), max+1)]
	if end >= 0 && end+4 < len(scan) {
		scan = scan[:end+4]
	}
	if hasBareLF(scan) {
		return r, errMalformed
	}
	if end < 0 {
		if len(buf) > max {
			return r, errTooLarge
		}
		return r, errIncomplete
	}
	r.headLen = end + 4
	if r.headLen > max {
		return r, errTooLarge
	}
	head := buf[:end+2]
	i := bytes.Index(head, crlf)
	if err := r.parseLine(head[:i]); err != nil {
		return r, err
	}
	r.keepAlive = r.minor == 1
	seenLen := false
	for rest := head[i+2:]; len(rest) > 0; {
		j := bytes.Index(rest, crlf)
		line := rest[:j]
		rest = rest[j+2:]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) {
			return r, errMalformed
		}
		name, value := line[:colon], trimOWS(line[colon+1:])
		if !validValue(value) {
			return r, errMalformed
		}
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, ok := parseLength(value)
			if !ok || (seenLen && n != r.bodyLen) {
				return r, errMalformed
			}
			r.bodyLen, seenLen = n, true
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return r, errMalformed
		case bytes.EqualFold(name, []byte("Connection")):
			for tok := range bytes.SplitSeq(value, []byte(",")) {
				tok = trimOWS(tok)
				if bytes.EqualFold(tok, []byte("close")) {
					r.keepAlive = false
				} else if bytes.EqualFold(tok, []byte("keep-alive")) {
					r.keepAlive = true
				}
			}
		}
	}
	return r, nil
}

// parseLine parses "METHOD SP target SP HTTP/1.x".
func (r *request) parseLine(line []byte) error {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return errMalformed
	}
	r.method = line[:sp1]
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return errMalformed
	}
	r.target, rest = rest[:sp2], rest[sp2+1:]
	if !isToken(r.method) || r.target[0] != '/' && !bytes.Equal(r.target, []byte("*")) {
		return errMalformed
	}
	for _, b := range r.target {
		if b <= ' ' || b == 0x7f {
			return errMalformed
		}
	}
	switch string(rest) {
	case "HTTP/1.1":
		r.minor = 1
	case "HTTP/1.0":
		r.minor = 0
	default:
		return errMalformed
	}
	return nil
}

// hasBareLF reports whether b has an LF not preceded by CR.
func hasBareLF(b []byte) bool {
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			return true
		}
	}
	return false
}

// isToken reports whether b is a non-empty RFC 9110 token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || bytes.IndexByte([]byte(`"(),/:;<=>?@[\]{}`), c) >= 0 {
			return false
		}
	}
	return true
}

// validValue reports whether a header value has no control bytes but tab.
func validValue(b []byte) bool {
	for _, c := range b {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func trimOWS(b []byte) []byte { return bytes.Trim(b, " \t") }

// parseLength parses a Content-Length: decimal digits only, at most 18.
func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

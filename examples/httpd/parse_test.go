package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		err      error
		keep     bool
		bodyLen  int64
	}{
		{"get", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", nil, true, 0},
		{"http10", "GET / HTTP/1.0\r\n\r\n", nil, false, 0},
		{"http10 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", nil, true, 0},
		{"close", "GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", nil, false, 0},
		{"body", "POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n", nil, true, 12},
		{"same length twice", "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", nil, true, 3},
		{"incomplete", "GET / HTTP/1.1\r\nHost:", errIncomplete, false, 0},
		{"bare LF", "GET / HTTP/1.1\nHost: x\n\n", errMalformed, false, 0},
		{"no version", "GET /\r\n\r\n", errMalformed, false, 0},
		{"http2", "GET / HTTP/2.0\r\n\r\n", errMalformed, false, 0},
		{"bad method", "G(T / HTTP/1.1\r\n\r\n", errMalformed, false, 0},
		{"relative target", "GET x HTTP/1.1\r\n\r\n", errMalformed, false, 0},
		{"no colon", "GET / HTTP/1.1\r\nHost x\r\n\r\n", errMalformed, false, 0},
		{"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", errMalformed, false, 0},
		{"bad length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", errMalformed, false, 0},
		{"two lengths", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", errMalformed, false, 0},
		{"chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", errMalformed, false, 0},
		{"control byte", "GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", errMalformed, false, 0},
		{"too large", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 200) + "\r\n\r\n", errTooLarge, false, 0},
		{"too large incomplete", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 200), errTooLarge, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseRequest([]byte(tc.in), 128)
			assert.Equal(t, tc.err, err)
			if err == nil {
				assert.Equal(t, tc.keep, r.keepAlive)
				assert.Equal(t, tc.bodyLen, r.bodyLen)
				assert.Equal(t, len(tc.in), r.headLen)
			}
		})
	}
}

// TestSessionPipelining: requests in one read, with a body between them,
// are answered in order.
func TestSessionPipelining(t *testing.T) {
	var out bytes.Buffer
	s := &session{maxHead: 1024}
	in := "GET / HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /x HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n"
	closed := s.feed([]byte(in), func(b []byte) { out.Write(b) })
	assert.True(t, closed)
	want := string(resp200) + string(resp200) + string(resp404) + string(resp200Close)
	assert.Equal(t, want, out.String())
}

var canned = [][]byte{resp200, resp200Head, resp200Close, resp404, resp400, resp431}

// responses feeds in to a new session in the given chunk sizes.
func responses(in []byte, chunks []int) ([][]byte, bool) {
	s := &session{maxHead: 256}
	var out [][]byte
	closed := false
	for len(in) > 0 && !closed {
		n := len(in)
		if len(chunks) > 0 {
			n = min(max(chunks[0], 1), len(in))
			chunks = chunks[1:]
		}
		closed = s.feed(in[:n], func(b []byte) { out = append(out, b) })
		in = in[n:]
	}
	return out, closed
}

// FuzzParseRequest: whatever the input and however it is split, the
// session never panics, answers only with the canned responses, in the
// same order for every split, and a malformed or oversized head is always
// answered 400 or 431 and closes.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.1\nHost: x\n\n",
		"GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 300) + "\r\n\r\n",
		"\r\n\r\n",
	} {
		f.Add([]byte(s), uint8(3), uint8(7))
	}
	f.Fuzz(func(t *testing.T, in []byte, a, b uint8) {
		whole, closedWhole := responses(in, nil)
		split, closedSplit := responses(in, []int{int(a), int(b), int(a) + int(b)})
		for _, r := range whole {
			found := false
			for _, c := range canned {
				found = found || bytes.Equal(r, c)
			}
			if !found {
				t.Fatalf("unexpected response %q", r)
			}
		}
		if len(whole) != len(split) || closedWhole != closedSplit {
			t.Fatalf("split changed the answers: %d/%v vs %d/%v", len(whole), closedWhole, len(split), closedSplit)
		}
		for i := range whole {
			if !bytes.Equal(whole[i], split[i]) {
				t.Fatalf("answer %d differs with a split", i)
			}
		}
		// Parse the first head directly: a malformed or oversized one
		// must be answered 400 or 431 and close.
		if _, err := parseRequest(in, 256); err == errMalformed || err == errTooLarge {
			want := resp400
			if err == errTooLarge {
				want = resp431
			}
			if len(whole) != 1 || !bytes.Equal(whole[0], want) || !closedWhole {
				t.Fatalf("%v answered %q (closed %v)", err, whole, closedWhole)
			}
		}
	})
}

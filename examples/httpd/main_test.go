package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/evpoll/evpoll/examples/internal/proctest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var binary string

func TestMain(m *testing.M) { proctest.Main(m, "httpd", &binary) }

// get does one GET / with client and reports whether the connection was
// reused.
func get(client *http.Client, url string) (reused bool, err error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return false, err
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
	}))
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, err
	}
	if resp.StatusCode != 200 || string(b) != body {
		return false, fmt.Errorf("got %d %q", resp.StatusCode, b)
	}
	return reused, nil
}

// Keep-alive with net/http's client on every backend: one connection
// serves every request.
func TestKeepAlive(t *testing.T) {
	for _, name := range proctest.Backends(t) {
		t.Run("poller="+name, func(t *testing.T) {
			p := proctest.Start(t, binary, "-threads", "2", "-poller", name)
			tr := &http.Transport{MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
			for i := range 20 {
				reused, err := get(client, "http://"+p.Addr+"/")
				require.NoError(t, err)
				assert.Equal(t, i > 0, reused, "request %d", i)
			}
			p.RequireFDs(t, 1) // the keep-alive connection
			tr.CloseIdleConnections()
			p.RequireFDs(t, 0)
		})
	}
}

// 100 concurrent net/http clients, 10 requests each.
func TestConcurrentClients(t *testing.T) {
	p := proctest.Start(t, binary, "-threads", "2")
	tr := &http.Transport{MaxIdleConnsPerHost: 100, MaxConnsPerHost: 100}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	errs := make([]error, 100)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			for range 10 {
				if _, err := get(client, "http://"+p.Addr+"/"); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
}

// raw sends in on a new connection and returns everything the server
// sends until it closes or 2 s pass.
func raw(t *testing.T, addr, in string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, in)
	require.NoError(t, err)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	out, err := io.ReadAll(c)
	require.NoError(t, err, "the server closes after an error or Connection: close")
	return string(out)
}

func TestPipeliningAndBodies(t *testing.T) {
	p := proctest.Start(t, binary)
	c, err := net.Dial("tcp", p.Addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"+
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world"+
		"GET /missing HTTP/1.1\r\nHost: a\r\n\r\n"+
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	require.NoError(t, err)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	for i, want := range []int{200, 200, 404, 200} {
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err, "response %d", i)
		b, _ := io.ReadAll(resp.Body)
		assert.Equal(t, want, resp.StatusCode, "response %d", i)
		if want == 200 {
			assert.Equal(t, body, string(b))
		}
	}
}

var statusLine = regexp.MustCompile(`HTTP/1\.1 (\d{3}) `)

func TestMalformedRequests(t *testing.T) {
	p := proctest.Start(t, binary, "-max-header", "1024")
	for _, tc := range []struct{ name, in, status string }{
		{"garbage", "\x00\x01\x02 hello\r\n\r\n", "400"},
		{"bare LF", "GET / HTTP/1.1\nHost: a\n\n", "400"},
		{"bad version", "GET / HTTP/9.9\r\n\r\n", "400"},
		{"bad length", "POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", "400"},
		{"chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"},
		{"after a good one", "GET / HTTP/1.1\r\n\r\nBAD\r\n\r\n", "200 400"},
		{"header too large", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 2000) + "\r\n\r\n", "431"},
		{"head never ends", "GET / HTTP/1.1\r\n" + strings.Repeat("X-A: b\r\n", 200), "431"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := raw(t, p.Addr, tc.in)
			var got []string
			for _, m := range statusLine.FindAllStringSubmatch(out, -1) {
				got = append(got, m[1])
			}
			assert.Equal(t, tc.status, strings.Join(got, " "), "response: %q", out)
		})
	}
	// The server is still fine.
	assert.Contains(t, raw(t, p.Addr, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n"), body)
}

func TestIdleTimeout(t *testing.T) {
	p := proctest.Start(t, binary, "-idle", "200ms")
	c, err := net.Dial("tcp", p.Addr)
	require.NoError(t, err)
	defer c.Close()
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(make([]byte, 1))
	assert.Zero(t, n)
	assert.ErrorIs(t, err, io.EOF, "closed by the server")
	assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
	assert.Less(t, time.Since(start), 3*time.Second)
}

// A slowloris client sends a header line every 50 ms: the idle timeout
// never fires, the header timeout does.
func TestSlowHeaders(t *testing.T) {
	p := proctest.Start(t, binary, "-idle", "5s", "-header-timeout", "300ms")
	c, err := net.Dial("tcp", p.Addr)
	require.NoError(t, err)
	defer c.Close()
	start := time.Now()
	_, err = io.WriteString(c, "GET / HTTP/1.1\r\n")
	require.NoError(t, err)
	for time.Since(start) < 3*time.Second {
		time.Sleep(50 * time.Millisecond)
		if _, err := io.WriteString(c, "X-Slow: 1\r\n"); err != nil {
			break
		}
		c.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			break // closed (EOF or reset)
		}
	}
	elapsed := time.Since(start)
	assert.GreaterOrEqual(t, elapsed, 250*time.Millisecond)
	assert.Less(t, elapsed, 2*time.Second, "the slow head was not cut off")
}

// A seamless reload under a client loop that opens a new connection per
// request: the successor takes the listener over, the old process exits
// 0, and not one connection is refused or fails on the way.
func TestSeamlessReload(t *testing.T) {
	path := t.TempDir() + "/reload.sock"
	old := proctest.Start(t, binary, "-reload", path, "-threads", "2")
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	stop := make(chan struct{})
	var ok, failed int
	var firstErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := get(client, "http://"+old.Addr+"/"); err != nil {
				failed++
				if firstErr == nil {
					firstErr = err
				}
			} else {
				ok++
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	next := proctest.Start(t, binary, "-reload", path, "-threads", "2")
	assert.Equal(t, old.Addr, next.Addr, "the successor serves the same socket")
	assert.Equal(t, 0, old.WaitExit(t, 5*time.Second), "the old process soft-stops; stderr: %s", old.Stderr)
	time.Sleep(100 * time.Millisecond)
	// And once more, from the successor to a third process.
	third := proctest.Start(t, binary, "-reload", path)
	assert.Equal(t, 0, next.WaitExit(t, 5*time.Second), "stderr: %s", next.Stderr)
	time.Sleep(100 * time.Millisecond)
	close(stop)
	<-done
	assert.Zero(t, failed, "refused or failed requests during the reloads; first: %v", firstErr)
	assert.Greater(t, ok, 20, "the client loop ran")
	third.Signal(t, syscall.SIGTERM)
	assert.Equal(t, 0, third.WaitExit(t, 3*time.Second))
}

func TestSignalsAndFlags(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		p := proctest.Start(t, binary, "-grace", "100ms")
		c, err := net.Dial("tcp", p.Addr)
		require.NoError(t, err)
		p.Signal(t, sig)
		assert.Equal(t, 0, p.WaitExit(t, 3*time.Second), "signal %d", sig)
		c.Close()
	}
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"-idle", "0s"}, "-idle"},
		{[]string{"-max-header", "1"}, "-max-header"},
		{[]string{"-header-timeout", "0s"}, "-header-timeout"},
		{[]string{"-threads", "99"}, "-threads"},
		{[]string{"-poller", "nosuch"}, "-poller"},
	} {
		proctest.BadFlag(t, binary, c.args, c.flag)
	}
}

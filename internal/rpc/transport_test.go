package rpc_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eipconform/eipconform/internal/rpc"
)

// waitLimit bounds every wait on a channel; reaching it is a failure, never a pass.
const waitLimit = 5 * time.Second

// rawServer is a TCP server on 127.0.0.1 that runs a handler of the test's on every
// connection, to write answers, or misbehave, as net/http's server would not.
type rawServer struct {
	url      string        // http://127.0.0.1:port
	done     chan struct{} // closed when the test ends: handlers waiting on it return
	requests atomic.Int64  // requests read through read

	ln     net.Listener
	mu     sync.Mutex
	conns  []net.Conn
	closed bool
	wg     sync.WaitGroup
}

// newRawServer starts a rawServer; the test's end stops it and closes its connections.
func newRawServer(t *testing.T, handle func(s *rawServer, c net.Conn, br *bufio.Reader)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening on 127.0.0.1: %v", err)
	}
	s := &rawServer{url: "http://" + ln.Addr().String(), done: make(chan struct{}), ln: ln}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				c.Close()
				return
			}
			s.conns = append(s.conns, c)
			s.wg.Go(func() {
				defer c.Close()
				handle(s, c, bufio.NewReader(c))
			})
			s.mu.Unlock()
		}
	})
	t.Cleanup(func() {
		close(s.done)
		ln.Close()
		s.mu.Lock()
		s.closed = true
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// read reads one request and its body from br, and counts it.
func (s *rawServer) read(br *bufio.Reader) (req *http.Request, body string, n int64, err error) {
	if req, err = http.ReadRequest(br); err != nil {
		return nil, "", 0, err
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, "", 0, err
	}
	return req, string(b), s.requests.Add(1) - 1, nil
}

// stall waits until the test ends, or waitLimit passes: a transport that should have broken
// the exchange off by then gets the connection closed, and fails the test instead of hanging.
func (s *rawServer) stall() {
	select {
	case <-s.done:
	case <-time.After(waitLimit):
	}
}

// connCount returns how many connections the server has accepted. A connection that
// carried a request the server read is always counted.
func (s *rawServer) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// okAnswer is a plain keep-alive answer with the body "ok".
const okAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// newFirstAnswerServer starts a rawServer that writes first to the first request it reads
// and okAnswer to every later one, on any connection; after the first answer, then is called
// with the connection, and the connection ends when it returns false.
func newFirstAnswerServer(t *testing.T, first string, then func(c net.Conn) bool) *rawServer {
	return newRawServer(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
		for {
			_, _, n, err := s.read(br)
			if err != nil {
				return
			}
			answer := okAnswer
			if n == 0 {
				answer = first
			}
			if _, err := io.WriteString(c, answer); err != nil || n == 0 && !then(c) {
				return
			}
		}
	})
}

// connStates counts an http.Server's connections as its ConnState hook reports them.
type connStates struct {
	opened atomic.Int64
	closed chan struct{} // a value for each connection closed (up to its capacity)
}

// newCountingServer starts an httptest server running h that counts its connections.
func newCountingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *connStates) {
	t.Helper()
	cs := &connStates{closed: make(chan struct{}, 1024)}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		switch state {
		case http.StateNew:
			cs.opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			select {
			case cs.closed <- struct{}{}:
			default:
			}
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, cs
}

// waitClosed waits until the server has seen n connections closed.
func (cs *connStates) waitClosed(t *testing.T, n int) {
	t.Helper()
	receive(t, cs.closed, n, "the server to see connections closed")
}

// gate holds the requests to /hold until the test lets them go: holding n requests at once
// makes a transport use n connections at once.
type gate struct {
	arrived chan struct{} // a value for each request held
	release chan struct{} // a value lets one request go; closed when the test ends
}

// newHoldServer starts a counting httptest server whose requests to /hold wait at the
// returned gate; other requests go to h.
func newHoldServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *connStates, *gate) {
	t.Helper()
	g := &gate{arrived: make(chan struct{}, 64), release: make(chan struct{})}
	srv, conns := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/hold" {
			h(w, r)
			return
		}
		g.arrived <- struct{}{}
		<-g.release
		_, _ = io.WriteString(w, "held")
	})
	// Registered after the server's Close, so run before it: held handlers go, and Close
	// does not wait for them forever when a test fails half-way.
	t.Cleanup(func() { close(g.release) })
	return srv, conns, g
}

// burst sends n GETs to url/hold at once through tr, all held by g until the n have arrived,
// and checks that each got "held".
func (g *gate) burst(t *testing.T, tr http.RoundTripper, url string, n int) {
	t.Helper()
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, body, err := get(tr, url+"/hold")
			if err == nil && body != "held" {
				err = fmt.Errorf("body %q, want %q", body, "held")
			}
			errs <- err
		})
	}
	receive(t, g.arrived, n, fmt.Sprintf("the %d requests of a burst to arrive", n))
	for range n {
		g.release <- struct{}{}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a burst of %d held requests: got %v, want success", n, err)
		}
	}
}

// get sends a GET to url through rt and returns the answer's status and body, read to its
// end and closed.
func get(rt http.RoundTripper, url string) (status int, body string, err error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	return send(rt, req)
}

// send sends req through rt and returns the answer's status and body, read to its end and
// closed.
func send(rt http.RoundTripper, req *http.Request) (status int, body string, err error) {
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestTransportKeepAlive: 20 sequential requests whose bodies are read whole (to EOF, or to
// their Content-Length) and closed use one connection.
func TestTransportKeepAlive(t *testing.T) {
	const text = "hello, keep-alive"
	srv, conns := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/empty" {
			w.Header().Set("Content-Length", "0")
			return
		}
		_, _ = io.WriteString(w, text)
	})
	readAll := func(resp *http.Response) (string, error) {
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	cases := []struct {
		name      string
		path      string
		viaClient bool // through an http.Client with a timeout, which wraps the body
		read      func(*http.Response) (string, error)
		want      string
	}{
		{name: "read to EOF", path: "/", read: readAll, want: text},
		{name: "read to EOF through http.Client", path: "/", viaClient: true, read: readAll, want: text},
		{name: "read to Content-Length with io.ReadFull", path: "/", want: text, read: func(resp *http.Response) (string, error) {
			buf := make([]byte, resp.ContentLength)
			_, err := io.ReadFull(resp.Body, buf)
			return string(buf), err
		}},
		{name: "Content-Length 0, closed unread", path: "/empty", want: "", read: func(*http.Response) (string, error) { return "", nil }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := &rpc.Transport{}
			hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			before := conns.opened.Load()
			for i := range 20 {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+tc.path, nil)
				var resp *http.Response
				var err error
				if tc.viaClient {
					resp, err = hc.Do(req)
				} else {
					resp, err = tr.RoundTrip(req)
				}
				if err != nil {
					t.Fatalf("request %d: got %v, want success", i, err)
				}
				got, err := tc.read(resp)
				resp.Body.Close()
				if err != nil || got != tc.want {
					t.Fatalf("request %d: body: got %q, %v, want %q, nil", i, got, err, tc.want)
				}
			}
			if n := conns.opened.Load() - before; n != 1 {
				t.Errorf("20 sequential requests: server connections: got %d, want 1", n)
			}
		})
	}
}

// TestTransportConcurrent: concurrent requests each get their own answer, never use more
// connections than requests in flight, and leave every connection in the pool.
func TestTransportConcurrent(t *testing.T) {
	const workers, perWorker = 8, 50
	srv, conns, g := newHoldServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body) // all of it first: a ResponseWriter may cut the request body off
		_, _ = w.Write(body)
	})
	tr := &rpc.Transport{MaxIdlePerHost: workers}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				want := fmt.Sprintf("worker %d request %d %s", w, i, strings.Repeat("x", w*100+i))
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/echo", strings.NewReader(want))
				status, got, err := send(tr, req)
				if err != nil || status != 200 || got != want {
					t.Errorf("worker %d request %d: got %d, %d bytes %.30q…, %v, want 200, the %d bytes sent %.30q…, nil", w, i, status, len(got), got, err, len(want), want)
					return
				}
			}
		})
	}
	wg.Wait()
	opened := conns.opened.Load()
	if opened < 1 || opened > workers {
		t.Errorf("%d workers × %d requests: server connections: got %d, want 1 to %d", workers, perWorker, opened, workers)
	}
	// Every connection went back to the pool (it holds up to 8): a burst of 8 requests held
	// at once takes them all and opens only the missing ones.
	g.burst(t, tr, srv.URL, workers)
	if n := conns.opened.Load(); n != workers {
		t.Errorf("after a burst of %d held requests: server connections: got %d, want %d (the %d pooled reused)", workers, n, workers, opened)
	}
}

// TestTransportIdlePoolCap: the pool keeps at most MaxIdlePerHost connections (2 for 0) and
// closes the others.
func TestTransportIdlePoolCap(t *testing.T) {
	const n = 6
	for _, tc := range []struct{ max, keeps int }{{0, 2}, {1, 1}, {3, 3}} {
		t.Run(fmt.Sprintf("MaxIdlePerHost %d", tc.max), func(t *testing.T) {
			srv, conns, g := newHoldServer(t, http.NotFound)
			tr := &rpc.Transport{MaxIdlePerHost: tc.max}
			g.burst(t, tr, srv.URL, n)
			if got := conns.opened.Load(); got != n {
				t.Fatalf("a burst of %d held requests: server connections: got %d, want %d", n, got, n)
			}
			conns.waitClosed(t, n-tc.keeps) // the ones the pool had no room for
			g.burst(t, tr, srv.URL, n)
			if got, want := conns.opened.Load(), int64(2*n-tc.keeps); got != want {
				t.Errorf("a second burst of %d: server connections in all: got %d, want %d (%d reused from the pool)", n, got, want, tc.keeps)
			}
		})
	}
}

// TestTransportAnswerShapes: whatever the shape of an answer, its body is read right, and
// its connection is used again exactly when the answer allows it. The server writes the
// answer's exact bytes to the first request, then "ok" to every request on any connection,
// so a connection reused when it should not be shows as one connection (or a garbled answer).
func TestTransportAnswerShapes(t *testing.T) {
	const hello = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
	cases := []struct {
		name       string
		method     string
		answer     string
		closeAfter bool // the server closes the connection after the answer
		wantStatus int
		wantBody   string
		reuse      bool
	}{
		{name: "Content-Length", answer: hello, wantStatus: 200, wantBody: "hello", reuse: true},
		{name: "chunked", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n", wantStatus: 200, wantBody: "hello", reuse: true},
		{name: "chunked with a trailer", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 5\r\n\r\n", wantStatus: 200, wantBody: "hello", reuse: true},
		{name: "Content-Length 0", answer: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", wantStatus: 200, reuse: true},
		{name: "204", answer: "HTTP/1.1 204 No Content\r\n\r\n", wantStatus: 204, reuse: true},
		{name: "HEAD", method: http.MethodHead, answer: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", wantStatus: 200, reuse: true},
		{name: "HTTP/1.1 body until close", answer: "HTTP/1.1 200 OK\r\n\r\nhello", closeAfter: true, wantStatus: 200, wantBody: "hello", reuse: false},
		{name: "Connection: close", answer: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello", wantStatus: 200, wantBody: "hello", reuse: false},
		{name: "HTTP/1.0", answer: "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello", wantStatus: 200, wantBody: "hello", reuse: false},
		{name: "HTTP/1.0 keep-alive", answer: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello", wantStatus: 200, wantBody: "hello", reuse: true},
		{name: "100 Continue then 200", answer: "HTTP/1.1 100 Continue\r\n\r\n" + hello, wantStatus: 200, wantBody: "hello", reuse: true},
		{name: "103 Early Hints twice then 200", answer: strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n", 2) + hello, wantStatus: 200, wantBody: "hello", reuse: true},
		{name: "garbage after a Content-Length body", answer: hello + "GARBAGE", wantStatus: 200, wantBody: "hello", reuse: false},
	}
	type result struct {
		Status      int
		Body        string
		Connections int
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newFirstAnswerServer(t, tc.answer, func(net.Conn) bool { return !tc.closeAfter })
			tr := &rpc.Transport{}
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			req, _ := http.NewRequest(method, s.url, nil)
			status, body, err := send(tr, req)
			if err != nil {
				t.Fatalf("%s for the answer %q: got %v, want success", method, tc.answer, err)
			}
			_, next, err := get(tr, s.url)
			if err != nil || next != "ok" {
				t.Fatalf("the request after the answer %q: got %q, %v, want \"ok\", nil", tc.answer, next, err)
			}
			want := result{tc.wantStatus, tc.wantBody, 2}
			if tc.reuse {
				want.Connections = 1
			}
			if diff := cmp.Diff(want, result{status, body, s.connCount()}); diff != "" {
				t.Errorf("answer %q, then a second request (-want +got):\n%s", tc.answer, diff)
			}
		})
	}
}

// TestTransportBodyClosedEarly: a body closed before its end loses its connection, and the
// next request, on a new one, gets its own answer.
func TestTransportBodyClosedEarly(t *testing.T) {
	cases := []struct {
		name   string
		answer string
		read   int    // bytes read before Close
		rest   string // what the server sends once the body is closed
	}{
		{"Content-Length, nothing read", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 0, ""},
		{"Content-Length, part read", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 2, ""},
		{"Content-Length, all there was read", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", 3, "lo"},
		{"chunked, part read", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 2, ""},
		{"chunked, all there was read", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", 5, "0\r\n\r\n"},
		{"large body, part read", "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + strings.Repeat("z", 100000), 1000, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bodyClosed := make(chan struct{})
			s := newFirstAnswerServer(t, tc.answer, func(c net.Conn) bool {
				if tc.rest == "" {
					return true
				}
				<-bodyClosed
				_, err := io.WriteString(c, tc.rest)
				return err == nil
			})
			tr := &rpc.Transport{}
			req, _ := http.NewRequest(http.MethodGet, s.url, nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatalf("first request: got %v, want success", err)
			}
			if _, err := io.ReadFull(resp.Body, make([]byte, tc.read)); err != nil {
				t.Fatalf("reading %d bytes of the body: got %v, want success", tc.read, err)
			}
			resp.Body.Close()
			close(bodyClosed)
			if n, err := resp.Body.Read(make([]byte, 1)); n != 0 || err == nil {
				t.Errorf("Read after Close: got %d, %v, want 0 and an error", n, err)
			}
			_, body, err := get(tr, s.url)
			if err != nil || body != "ok" {
				t.Fatalf("the request after a body closed early: got %q, %v, want \"ok\", nil", body, err)
			}
			if n := s.connCount(); n != 2 {
				t.Errorf("server connections: got %d, want 2 (the first closed with its body)", n)
			}
		})
	}
}

// drops are the ways a server can end an idle keep-alive connection.
var drops = []struct {
	name string
	drop func(c net.Conn)
}{
	{"closed", func(c net.Conn) { c.Close() }},
	{"reset", func(c net.Conn) { c.(*net.TCPConn).SetLinger(0); c.Close() }},
	// On a real network the client often reads the server's FIN before the reset its own
	// write brings about arrives: a half-close shows that case on the loopback.
	{"FIN only (half-closed)", func(c net.Conn) { c.(*net.TCPConn).CloseWrite() }},
}

// staleServer answers its first k requests "ok" as keep-alive answers once all k have
// arrived (so they came on k connections), then ends those k connections with drop and
// closes dropped (it still reads, without counting, what comes on them). It answers any
// other request "ok", and records every request's body.
func staleServer(t *testing.T, k int64, drop func(net.Conn)) (s *rawServer, dropped chan struct{}, bodies func() []string) {
	var mu sync.Mutex
	var seen []string
	var arrivals, drops atomic.Int64
	allArrived, dropped := make(chan struct{}), make(chan struct{})
	s = newRawServer(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
		for {
			_, body, n, err := s.read(br)
			if err != nil {
				return
			}
			mu.Lock()
			seen = append(seen, body)
			mu.Unlock()
			if n >= k {
				if _, err := io.WriteString(c, okAnswer); err != nil {
					return
				}
				continue
			}
			if arrivals.Add(1) == k {
				close(allArrived)
			}
			select {
			case <-allArrived:
			case <-s.done:
				return
			}
			if _, err := io.WriteString(c, okAnswer); err != nil {
				return
			}
			drop(c)
			if drops.Add(1) == k {
				close(dropped)
			}
			_, _ = io.Copy(io.Discard, c)
			return
		}
	})
	return s, dropped, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// poolStale fills tr's pool with k connections to s (k GETs at once), and waits for the
// server to drop them.
func poolStale(t *testing.T, tr http.RoundTripper, s *rawServer, k int, dropped <-chan struct{}) {
	t.Helper()
	errs := make(chan error, k)
	for range k {
		go func() {
			_, body, err := get(tr, s.url)
			if err == nil && body != "ok" {
				err = fmt.Errorf("body %q", body)
			}
			errs <- err
		}()
	}
	for range k {
		if err := <-errs; err != nil {
			t.Fatalf("%d GETs at once to fill the pool: got %v, want \"ok\", nil", k, err)
		}
	}
	waitFor(t, dropped, "the server to drop the idle connections")
}

// waitFor waits for ch to be closed.
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	receive(t, ch, 1, what)
}

// receive waits for n values (or the close) of ch, each within waitLimit.
func receive(t *testing.T, ch <-chan struct{}, n int, what string) {
	t.Helper()
	for i := range n {
		select {
		case <-ch:
		case <-time.After(waitLimit):
			t.Fatalf("waiting for %s: got %d in %v, want %d", what, i, waitLimit, n)
		}
	}
}

// TestTransportRetriesStaleConnection: a request on a pooled connection the server ended
// while it was idle is sent again, once, on a new connection, body included, even when the
// server ended every pooled connection; the request a dead connection carried is never read
// by the server.
func TestTransportRetriesStaleConnection(t *testing.T) {
	for _, d := range drops {
		for _, k := range []int{1, 2} {
			t.Run(fmt.Sprintf("%d pooled, %s", k, d.name), func(t *testing.T) {
				s, dropped, bodies := staleServer(t, int64(k), d.drop)
				tr := &rpc.Transport{MaxIdlePerHost: k}
				poolStale(t, tr, s, k, dropped)
				req, _ := http.NewRequest(http.MethodPost, s.url, strings.NewReader("second"))
				if _, body, err := send(tr, req); err != nil || body != "ok" {
					t.Fatalf("a POST when the server %s the %d pooled connections while idle: got %q, %v, want \"ok\", nil (sent again on a new connection)", d.name, k, body, err)
				}
				want := append(make([]string, k), "second")
				if diff := cmp.Diff(want, bodies()); diff != "" {
					t.Errorf("request bodies the server read (-want +got):\n%s", diff)
				}
				if n := s.connCount(); n != k+1 {
					t.Errorf("server connections: got %d, want %d", n, k+1)
				}
			})
		}
	}
}

// TestTransportDoesNotRetry: a request is not sent again when its body cannot be re-read (no
// GetBody), nor when it failed on a fresh connection.
func TestTransportDoesNotRetry(t *testing.T) {
	for _, d := range drops {
		t.Run("no GetBody, idle connection "+d.name, func(t *testing.T) {
			s, dropped, _ := staleServer(t, 1, d.drop)
			tr := &rpc.Transport{}
			poolStale(t, tr, s, 1, dropped)
			req, _ := http.NewRequest(http.MethodPost, s.url, nil)
			req.Body, req.ContentLength = io.NopCloser(strings.NewReader("second")), 6
			if _, body, err := send(tr, req); err == nil {
				t.Fatalf("a POST without GetBody on a connection the server %s: got %q, nil, want an error", d.name, body)
			}
			if got := [2]int64{int64(s.connCount()), s.requests.Load()}; got != [2]int64{1, 1} {
				t.Errorf("server connections and requests read: got %v, want [1 1] (not sent again)", got)
			}
		})
	}
	for _, d := range drops[:2] {
		t.Run("fresh connection "+d.name+" unanswered", func(t *testing.T) {
			s := newRawServer(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
				if _, _, _, err := s.read(br); err == nil {
					d.drop(c)
				}
			})
			if _, body, err := get(&rpc.Transport{}, s.url); err == nil {
				t.Fatalf("a GET to a server that %s the connection unanswered: got %q, nil, want an error", d.name, body)
			}
			if got := [2]int64{int64(s.connCount()), s.requests.Load()}; got != [2]int64{1, 1} {
				t.Errorf("server connections and requests read: got %v, want [1 1] (not sent again)", got)
			}
		})
	}
}

// TestTransportContext: a request's deadline or cancellation ends the exchange, before the
// answer or while its body is read, with an error wrapping the context's; the next request
// works.
func TestTransportContext(t *testing.T) {
	const (
		stall   = "stall"   // read the request, never answer
		dribble = "dribble" // send the headers, then a byte of the body every 10 ms
		partial = "partial" // send the headers and part of the body, then nothing
	)
	cases := []struct {
		name   string
		server string
		cancel bool // cancel (once the request arrived, or part of the body); else a 100 ms deadline
		want   error
	}{
		{"deadline, no answer", stall, false, context.DeadlineExceeded},
		{"cancel, no answer", stall, true, context.Canceled},
		{"deadline, body dribbled", dribble, false, context.DeadlineExceeded},
		{"cancel, body stalled", partial, true, context.Canceled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			arrived := make(chan struct{})
			s := newRawServer(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
				_, _, n, err := s.read(br)
				if err != nil {
					return
				}
				if n > 0 {
					_, _ = io.WriteString(c, okAnswer)
					return
				}
				close(arrived)
				switch tc.server {
				case dribble:
					if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n"); err != nil {
						return
					}
					tick := time.NewTicker(10 * time.Millisecond)
					defer tick.Stop()
					for {
						select {
						case <-s.done:
							return
						case <-tick.C:
							if _, err := c.Write([]byte{'z'}); err != nil {
								return
							}
						}
					}
				case partial:
					_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel")
				}
				s.stall()
			})
			tr := &rpc.Transport{}
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			if tc.cancel {
				ctx, cancel = context.WithCancel(context.Background())
			}
			defer cancel()
			if tc.cancel && tc.server == stall {
				go func() {
					<-arrived
					cancel()
				}()
			}
			start := time.Now()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
			resp, err := tr.RoundTrip(req)
			if tc.server != stall {
				if err != nil {
					t.Fatalf("RoundTrip: got %v, want the headers", err)
				}
				if tc.cancel {
					if _, err := io.ReadFull(resp.Body, make([]byte, 3)); err != nil {
						t.Fatalf("reading the first bytes of the body: got %v, want success", err)
					}
					cancel()
				}
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("the exchange: got error %v, want one wrapping %v", err, tc.want)
			}
			if d := time.Since(start); d > waitLimit {
				t.Errorf("the exchange ended after %v, want well under %v", d, waitLimit)
			}
			if _, body, err := get(tr, s.url); err != nil || body != "ok" {
				t.Errorf("the next request: got %q, %v, want \"ok\", nil", body, err)
			}
		})
	}
}

// TestTransportDeadlineRace: when a deadline ends an exchange, the error wraps
// context.DeadlineExceeded even when the connection's deadline (the same instant) fires
// before the context's timer: many short deadlines at once make that likely.
func TestTransportDeadlineRace(t *testing.T) {
	s := newRawServer(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
		if _, _, _, err := s.read(br); err == nil {
			s.stall()
		}
	})
	tr := &rpc.Transport{}
	const n = 64
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(20+i%8)*time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
			_, _, err := send(tr, req)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	var bad []string
	for err := range errs {
		if !errors.Is(err, context.DeadlineExceeded) {
			bad = append(bad, fmt.Sprint(err))
		}
	}
	if len(bad) > 0 {
		t.Errorf("%d requests to a server that never answers, 20-27 ms deadlines: %d errors not wrapping context.DeadlineExceeded, e.g. got %q", n, len(bad), bad[0])
	}
}

// headerAnswer is an answer with about size bytes of headers, in 1000-byte lines.
func headerAnswer(status string, size int) string {
	var b strings.Builder
	b.WriteString("HTTP/1.1 " + status + "\r\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "X-Pad-%06d: %s\r\n", i, strings.Repeat("p", 980))
	}
	return b.String() + "\r\n"
}

// TestTransportHeaderLimits: an answer's headers, 1xx answers included, are capped at
// MaxHeaderBytes (DefaultMaxHeaderBytes for 0), and at most 5 informational answers are
// skipped.
func TestTransportHeaderLimits(t *testing.T) {
	final := "HTTP/1.1 200 OK\r\nX-Final: yes\r\nContent-Length: 2\r\n\r\nok"
	early := "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
	cases := []struct {
		name    string
		max     int64
		answer  string
		wantErr func(error) bool // nil: success, with X-Final: yes and the body "ok"
		want    string
	}{
		{name: "2 MB of headers, cap 64 KiB", max: 64 << 10, answer: headerAnswer("200 OK", 2<<20),
			wantErr: func(err error) bool { return errors.Is(err, rpc.ErrHeaderTooLarge) }, want: "an error wrapping ErrHeaderTooLarge"},
		{name: "2 MB of headers, default cap", answer: headerAnswer("200 OK", 2<<20),
			wantErr: func(err error) bool { return errors.Is(err, rpc.ErrHeaderTooLarge) }, want: "an error wrapping ErrHeaderTooLarge"},
		{name: "60 KB of headers, cap 64 KiB", max: 64 << 10, answer: strings.TrimSuffix(headerAnswer("200 OK", 60_000), "\r\n") + final[len("HTTP/1.1 200 OK\r\n"):]},
		{name: "3 × 103 with 30 KB of headers each, cap 64 KiB", max: 64 << 10, answer: strings.Repeat(headerAnswer("103 Early Hints", 30_000), 3) + final,
			wantErr: func(err error) bool { return errors.Is(err, rpc.ErrHeaderTooLarge) }, want: "an error wrapping ErrHeaderTooLarge (1xx headers count)"},
		{name: "5 × 103", answer: strings.Repeat(early, 5) + final},
		{name: "6 × 103", answer: strings.Repeat(early, 6) + final,
			wantErr: func(err error) bool { return err != nil && strings.Contains(err.Error(), "informational") }, want: "an error mentioning informational answers"},
		{name: "10 × 103", answer: strings.Repeat(early, 10) + final,
			wantErr: func(err error) bool { return err != nil && strings.Contains(err.Error(), "informational") }, want: "an error mentioning informational answers"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newRawServer(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
				if _, _, _, err := s.read(br); err == nil {
					_, _ = io.WriteString(c, tc.answer)
				}
			})
			req, _ := http.NewRequest(http.MethodGet, s.url, nil)
			resp, err := (&rpc.Transport{MaxHeaderBytes: tc.max}).RoundTrip(req)
			if tc.wantErr != nil {
				if !tc.wantErr(err) {
					t.Errorf("RoundTrip: got %v, want %s", err, tc.want)
				}
				if resp != nil {
					resp.Body.Close()
				}
				return
			}
			if err != nil {
				t.Fatalf("RoundTrip: got %v, want success", err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if got := fmt.Sprintf("%d %s %s %v", resp.StatusCode, resp.Header.Get("X-Final"), body, err); got != "200 yes ok <nil>" {
				t.Errorf("status, X-Final, body, error: got %q, want %q", got, "200 yes ok <nil>")
			}
		})
	}
}

// recorder is a RoundTripper that records the URLs it is given and answers 299.
type recorder struct {
	mu   sync.Mutex
	urls []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.urls = append(r.urls, req.URL.String())
	r.mu.Unlock()
	return &http.Response{StatusCode: 299, Body: http.NoBody, Header: http.Header{}, Request: req}, nil
}

// TestTransportFallback: requests to other schemes than http go to Fallback; http ones do
// not.
func TestTransportFallback(t *testing.T) {
	srv, _ := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "direct") })
	rec := &recorder{}
	tr := &rpc.Transport{Fallback: rec}
	cases := []struct {
		url        string
		wantStatus int
		wantBody   string
	}{
		{"https://example.invalid/a?b=c", 299, ""},
		{srv.URL + "/x", 200, "direct"},
		{"HTTPS://example.invalid/upper", 299, ""},
	}
	for _, tc := range cases {
		status, body, err := get(tr, tc.url)
		if err != nil || status != tc.wantStatus || body != tc.wantBody {
			t.Errorf("GET %s: got %d %q, %v, want %d %q, nil", tc.url, status, body, err, tc.wantStatus, tc.wantBody)
		}
	}
	if diff := cmp.Diff([]string{"https://example.invalid/a?b=c", "https://example.invalid/upper"}, rec.urls); diff != "" {
		t.Errorf("URLs the Fallback got (-want +got):\n%s", diff)
	}
}

// TestTransportCloseIdleConnections: CloseIdleConnections (through http.Client's) closes the
// pooled connections; the next request opens a new one.
func TestTransportCloseIdleConnections(t *testing.T) {
	srv, conns, g := newHoldServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
	tr := &rpc.Transport{MaxIdlePerHost: 4}
	g.burst(t, tr, srv.URL, 3)
	(&http.Client{Transport: tr}).CloseIdleConnections()
	conns.waitClosed(t, 3)
	if _, body, err := get(tr, srv.URL); err != nil || body != "ok" {
		t.Fatalf("a request after CloseIdleConnections: got %q, %v, want \"ok\", nil", body, err)
	}
	if n := conns.opened.Load(); n != 4 {
		t.Errorf("server connections: got %d, want 4 (3 closed idle, 1 new)", n)
	}
}

// TestClientDoThroughTransport: Client.Do with an http.Client whose Transport is a
// *Transport applies the http.Client's timeout to the whole exchange, saying so, and reads
// answers as through net/http.
func TestClientDoThroughTransport(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		for _, tc := range []struct{ name, answer string }{
			{"no answer", ""},
			{"body stalled", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"Req"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := newRawServer(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
					if _, _, _, err := s.read(br); err == nil {
						_, _ = io.WriteString(c, tc.answer)
						s.stall()
					}
				})
				c := &rpc.Client{Endpoint: s.url, HTTP: &http.Client{Timeout: 200 * time.Millisecond, Transport: &rpc.Transport{}}}
				start := time.Now()
				resp, err := c.Do(context.Background(), url.Values{"Action": {"DescribeEipAddresses"}})
				if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer within the client's timeout") {
					t.Errorf("Do with a 200ms client timeout: got %v, %v, want nil and an error wrapping context.DeadlineExceeded that mentions \"no answer within the client's timeout\"", resp, err)
				}
				if d := time.Since(start); d > waitLimit {
					t.Errorf("Do ended after %v, want well under %v", d, waitLimit)
				}
			})
		}
	})
	t.Run("JSON error body", func(t *testing.T) {
		errBody := rpc.ErrorBody{RequestId: "r-1", Code: "InvalidParameter", Message: "bad"}
		srv := newVerifyServer(t, func(w http.ResponseWriter, r *http.Request, params url.Values) {
			rpc.WriteError(w, rpc.JSON, 400, errBody)
		})
		c := fixedClient(srv, "")
		c.HTTP = &http.Client{Timeout: 5 * time.Second, Transport: &rpc.Transport{}}
		for i := range 2 { // the second on the kept-alive connection
			resp, err := c.Do(context.Background(), url.Values{"Action": {"ReleaseEipAddress"}, "AllocationId": {"eip-1"}})
			if err != nil {
				t.Fatalf("Do %d: got %v, want success", i, err)
			}
			type got struct {
				Status      int
				Format      rpc.Format
				Error       *rpc.ErrorBody
				ErrorDecode error
				Verified    bool
			}
			want := got{400, rpc.JSON, &errBody, nil, true}
			if diff := cmp.Diff(want, got{resp.Status, resp.Format, resp.Error, resp.ErrorDecode, srv.last(t).ok}, cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
				t.Errorf("Do %d through a Transport (-want +got):\n%s", i, diff)
			}
		}
	})
}

// BenchmarkTransport compares a Transport with net/http's on small form POSTs answered with
// a ~300-byte JSON body, as the conformance engine sends them.
func BenchmarkTransport(b *testing.B) {
	answer := []byte(`{"RequestId":"4EC47282-1B74-4534-BD0E-403F3EE64CAF","TotalCount":1,"PageNumber":1,"PageSize":10,"EipAddresses":{"EipAddress":[{"AllocationId":"eip-2zeerraiwb7ujsxdc****","IpAddress":"47.94.xx.xx","RegionId":"cn-hangzhou","Status":"Available","Bandwidth":"5","InternetChargeType":"PayByTraffic","AllocationTime":"2024-05-06T07:08:09Z"}]}}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.Header().Set("Content-Type", rpc.JSONContentType)
		_, _ = w.Write(answer)
	}))
	b.Cleanup(srv.Close)
	const form = "Action=DescribeEipAddresses&Format=JSON&RegionId=cn-hangzhou&Version=2016-04-28"
	conns := 2 * runtime.GOMAXPROCS(0)
	rpcTransport := &rpc.Transport{MaxIdlePerHost: conns}
	netClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, DisableCompression: true}}
	b.Cleanup(rpcTransport.CloseIdleConnections)
	b.Cleanup(netClient.CloseIdleConnections)
	for _, bc := range []struct {
		name string
		do   func(*http.Request) (*http.Response, error)
	}{
		{"rpc.Transport", rpcTransport.RoundTrip},
		{"net/http.Transport", netClient.Do},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(form))
					req.Header.Set("Content-Type", rpc.FormContentType)
					resp, err := bc.do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err != nil || resp.StatusCode != 200 {
						b.Errorf("answer: got %d, %v, want 200, nil", resp.StatusCode, err)
						return
					}
				}
			})
		})
	}
}

package rpc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"
)

// Transport is an http.RoundTripper for plain-HTTP (http://) endpoints that does each
// exchange on the calling goroutine: the request is written with one write and the answer
// read with http.ReadResponse on a kept-alive HTTP/1.1 connection, with no goroutines per
// connection or per request (net/http's Transport runs two per connection and hands every
// exchange between them, which costs a harness on a shared 2-core machine about a tenth of
// its time). Requests to other schemes (https) go to Fallback. Transport never uses a proxy
// and never asks for compression.
//
// A request's context bounds the whole exchange, body included: its deadline is the
// connection's, and cancelling it breaks the exchange off. A connection goes back to the
// idle pool when its answer's body has been read to the end (or to its Content-Length) and
// neither side asked to close it; anything else closes it. A request that fails on a reused
// connection before any byte of an answer arrives (the server had closed it while idle) is
// sent once more on a new connection. Client.Do sends through a Transport directly, without
// http.Client's per-request timer goroutine.
//
//	hc := &http.Client{Timeout: 10 * time.Second, Transport: &rpc.Transport{MaxIdlePerHost: 8}}
//	defer hc.CloseIdleConnections()
//	c := &rpc.Client{Endpoint: "http://127.0.0.1:8080", HTTP: hc}
type Transport struct {
	// Fallback carries requests to other schemes than http; nil means http.DefaultTransport.
	Fallback http.RoundTripper
	// MaxIdlePerHost is how many idle connections are kept per host and port; 0 means 2.
	MaxIdlePerHost int
	// MaxHeaderBytes caps an answer's status line and headers (1xx answers included); 0
	// means DefaultMaxHeaderBytes.
	MaxHeaderBytes int64

	mu   sync.Mutex
	idle map[string][]*persistConn
}

// DefaultMaxHeaderBytes is a Transport's cap on an answer's status line and headers.
const DefaultMaxHeaderBytes = 1 << 20

// max1xx is how many informational (1xx) answers may come before the final one.
const max1xx = 5

// ErrHeaderTooLarge is the error of an answer whose headers exceed Transport.MaxHeaderBytes.
var ErrHeaderTooLarge = errors.New("rpc: the answer's headers are too large")

// errBodyClosed is what reading a body after Close returns.
var errBodyClosed = errors.New("rpc: read on a closed response body")

// RoundTrip sends req and returns the answer; see Transport.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil || req.URL.Scheme != "http" {
		fb := t.Fallback
		if fb == nil {
			fb = http.DefaultTransport
		}
		return fb.RoundTrip(req)
	}
	if req.URL.Host == "" {
		closeBody(req)
		return nil, errors.New("rpc: the request's URL has no host")
	}
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	for attempt := 0; ; attempt++ {
		pc, reused, err := t.conn(req.Context(), addr, attempt == 0)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		resp, err := pc.roundTrip(t, req)
		if err == nil {
			return resp, nil
		}
		pc.close()
		if !reused || attempt > 0 || pc.received > 0 || req.Context().Err() != nil || !staleConn(err) {
			return nil, err
		}
		if req.Body != nil && req.Body != http.NoBody {
			if req.GetBody == nil {
				return nil, err
			}
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
	}
}

// staleConn reports whether err is how a connection the server closed while it was idle
// fails: the write is refused, or the read finds the end (http.ReadResponse calls it
// unexpected) or a reset before any byte.
func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// ctxErr returns err, wrapped in the context's error when the context ended: a deadline
// breaks the connection off at the moment the context's own timer fires, so a connection
// timeout waits for the context to say so.
func ctxErr(ctx context.Context, err error) error {
	if _, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) {
		<-ctx.Done()
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// CloseIdleConnections closes the idle connections; http.Client.CloseIdleConnections calls it.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, conns := range idle {
		for _, pc := range conns {
			pc.close()
		}
	}
}

// conn returns an idle connection to addr when idle is true and there is one, else a new one.
func (t *Transport) conn(ctx context.Context, addr string, idle bool) (pc *persistConn, reused bool, err error) {
	t.mu.Lock()
	if conns := t.idle[addr]; idle && len(conns) > 0 {
		pc = conns[len(conns)-1]
		conns[len(conns)-1] = nil
		t.idle[addr] = conns[:len(conns)-1]
	}
	t.mu.Unlock()
	if pc != nil {
		return pc, true, nil
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	pc = &persistConn{conn: c, addr: addr}
	pc.meter.conn = c
	pc.br = bufio.NewReaderSize(&pc.meter, 16<<10)
	pc.bw = bufio.NewWriterSize(c, 16<<10)
	return pc, false, nil
}

// put returns pc to the idle pool, or closes it when the pool is full.
func (t *Transport) put(pc *persistConn) {
	max := t.MaxIdlePerHost
	if max <= 0 {
		max = 2
	}
	t.mu.Lock()
	if t.idle == nil {
		t.idle = map[string][]*persistConn{}
	}
	if conns := t.idle[pc.addr]; len(conns) < max {
		t.idle[pc.addr] = append(conns, pc)
		pc = nil
	}
	t.mu.Unlock()
	if pc != nil {
		pc.close()
	}
}

// persistConn is one HTTP/1.1 connection, used by one exchange at a time.
type persistConn struct {
	conn     net.Conn
	addr     string
	br       *bufio.Reader
	bw       *bufio.Writer
	meter    meteredReader
	received int64 // bytes of the current exchange's answer read from the network
}

// meteredReader reads from conn at most budget bytes, counting them.
type meteredReader struct {
	conn   net.Conn
	budget int64
	count  *int64
}

func (m *meteredReader) Read(p []byte) (int, error) {
	if m.budget <= 0 {
		return 0, ErrHeaderTooLarge
	}
	if int64(len(p)) > m.budget {
		p = p[:m.budget]
	}
	n, err := m.conn.Read(p)
	m.budget -= int64(n)
	*m.count += int64(n)
	return n, err
}

// noBudget is a meteredReader's budget while a body is read (the body's reader caps it).
const noBudget = 1<<63 - 1

// aLongTimeAgo is a deadline that has passed: setting it breaks off blocked reads and writes.
var aLongTimeAgo = time.Unix(1, 0)

// roundTrip writes req and reads the final answer's headers; the body is read through the
// answer's Body.
func (pc *persistConn) roundTrip(t *Transport, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	deadline, _ := ctx.Deadline() // the zero time (none) when there is none
	if err := pc.conn.SetDeadline(deadline); err != nil {
		closeBody(req)
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { pc.conn.SetDeadline(aLongTimeAgo) })
	fail := func(err error) (*http.Response, error) {
		stop()
		return nil, ctxErr(ctx, err)
	}
	pc.received = 0
	pc.meter.count = &pc.received
	pc.meter.budget = t.MaxHeaderBytes
	if pc.meter.budget <= 0 {
		pc.meter.budget = DefaultMaxHeaderBytes
	}
	if err := req.Write(pc.bw); err != nil { // closes req.Body
		return fail(err)
	}
	if err := pc.bw.Flush(); err != nil {
		return fail(err)
	}
	var resp *http.Response
	for n := 0; ; n++ {
		var err error
		if resp, err = http.ReadResponse(pc.br, req); err != nil {
			return fail(err)
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		if n == max1xx {
			return fail(fmt.Errorf("rpc: more than %d informational (1xx) answers", max1xx))
		}
	}
	pc.meter.budget = noBudget
	resp.Body = &connBody{t: t, pc: pc, ctx: ctx, stop: stop, rc: resp.Body, length: resp.ContentLength, reuse: !resp.Close && !req.Close}
	return resp, nil
}

func (pc *persistConn) close() { pc.conn.Close() }

// connBody is an answer's body: it gives its connection back when it has been read whole.
type connBody struct {
	t      *Transport
	pc     *persistConn
	ctx    context.Context
	stop   func() bool
	rc     io.ReadCloser
	length int64 // the Content-Length, -1 if unknown
	read   int64
	reuse  bool // neither side asked to close the connection
	done   bool
	err    error // what reads return once done
}

func (b *connBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, b.err
	}
	n, err := b.rc.Read(p)
	b.read += int64(n)
	switch {
	case err == io.EOF:
		b.finish(true, io.EOF)
	case err != nil:
		err = ctxErr(b.ctx, err)
		b.finish(false, err)
	}
	return n, err
}

// Close ends the exchange; the connection is kept when the body was read to its end.
func (b *connBody) Close() error {
	if !b.done {
		b.finish(b.length >= 0 && b.read == b.length, errBodyClosed)
	}
	b.err = errBodyClosed
	return nil
}

// finish ends the exchange: the connection goes back to the pool when the body is complete,
// nothing more is buffered, nobody asked to close it and the context did not break it off.
func (b *connBody) finish(complete bool, err error) {
	b.done, b.err = true, err
	notBroken := b.stop()
	if complete && b.reuse && notBroken && b.pc.br.Buffered() == 0 {
		b.t.put(b.pc)
		return
	}
	b.pc.close()
}

// Package loadgen is a wrk-like load generator for benchmarks: keep-alive HTTP/1.1
// connections that write each request by hand and read the answer with
// http.ReadResponse, so generating load costs little of the cores the server shares.
//
//	addr, stop, err := loadgen.Serve(handler)
//	defer stop()
//	c, err := loadgen.Dial(addr)
//	defer c.Close()
//	status, body, err := c.PostForm("Action=DescribeEipAddresses&...")
package loadgen

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// Serve starts h on a fresh 127.0.0.1 port and returns its host:port and a stop function.
func Serve(h http.Handler) (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	return ln.Addr().String(), func() { hs.Close() }, nil
}

// Conn is one keep-alive HTTP/1.1 connection. It is not safe for concurrent use: give each
// load goroutine its own.
type Conn struct {
	conn net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
}

// Dial connects to addr (host:port).
func Dial(addr string) (*Conn, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Conn{conn: conn, br: bufio.NewReaderSize(conn, 16<<10), bw: bufio.NewWriterSize(conn, 16<<10)}, nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.conn.Close() }

// formType is the Content-Type of an RPC form body.
const formType = "application/x-www-form-urlencoded"

// PostForm sends POST / with a form body and returns the answer's status and body.
func (c *Conn) PostForm(form string) (status int, body []byte, err error) {
	fmt.Fprintf(c.bw, "POST / HTTP/1.1\r\nHost: loadgen\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s", formType, len(form), form)
	return c.roundTrip(http.MethodPost)
}

// Send writes raw, a whole HTTP/1.1 request with the given method, and returns the
// answer's status and body.
func (c *Conn) Send(method string, raw []byte) (status int, body []byte, err error) {
	c.bw.Write(raw)
	return c.roundTrip(method)
}

func (c *Conn) roundTrip(method string) (int, []byte, error) {
	if err := c.bw.Flush(); err != nil {
		return 0, nil, err
	}
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// Parallel runs body in b.RunParallel with four goroutines per core (they wait on the server
// most of the time), each with its number n (0, 1, ...) and a keep-alive connection of its
// own to addr, closed when body returns. It reports allocations and resets the timer first;
// more than maxClients goroutines, or a failed dial, fails the benchmark.
//
//	loadgen.Parallel(b, addr, 64, func(n int64, c *loadgen.Conn, pb *testing.PB) {
//		for pb.Next() {
//			status, body, err := c.PostForm(form)
//			...
//		}
//	})
func Parallel(b *testing.B, addr string, maxClients int, body func(n int64, c *Conn, pb *testing.PB)) {
	var clients atomic.Int64
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		n := clients.Add(1) - 1
		if n >= int64(maxClients) {
			b.Errorf("more than %d parallel clients", maxClients)
			return
		}
		c, err := Dial(addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		body(n, c, pb)
	})
}

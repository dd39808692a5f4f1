package conformance_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eipconform/eipconform/conformance"
	"github.com/eipconform/eipconform/emulator"
	"github.com/eipconform/eipconform/internal/loadgen"
	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/internal/tuning"
	"github.com/eipconform/eipconform/spec"
)

// The harness's throughput is compared with the endpoint's raw capacity for the same
// requests: BenchmarkCheckDefault drives the emulator over loopback with the default run,
// BenchmarkRawCapacity replays that run's requests with a wrk-like generator. The ratio of
// their medians (cases/s over req/s) is how much of the endpoint the harness can use.

// serveLoopback serves h on a real http.Server on 127.0.0.1 and returns its URL.
func serveLoopback(tb testing.TB, h http.Handler) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	tb.Cleanup(func() { hs.Close() })
	return "http://" + ln.Addr().String()
}

// newEmulator returns a fresh emulator with the default world and the example key.
func newEmulator(tb testing.TB) *emulator.Server {
	tb.Helper()
	srv, err := emulator.New(emulator.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return srv
}

// loopbackTarget is the example key's target at url.
func loopbackTarget(url string) conformance.Target {
	sig := spec.Default().Signature
	return conformance.Target{URL: url, AccessKeyID: sig.ExampleAccessKeyID, AccessKeySecret: sig.ExampleAccessKeySecret}
}

// current is a handler that serves with whichever emulator it was last given.
type current struct {
	srv atomic.Pointer[emulator.Server]
}

func (c *current) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.srv.Load().ServeHTTP(w, r) }

// BenchmarkCheckDefault is the default run (every phase, seed 1) against the emulator over
// loopback, a fresh emulator per run (made with the timer stopped). One op is one run;
// cases/s counts the requests the harness sent (Report.Cases: the cases and the setup and
// restore requests around them) per second.
func BenchmarkCheckDefault(b *testing.B) {
	defer tuning.Apply()() // as eipconform run and serve run
	h := &current{}
	h.srv.Store(newEmulator(b))
	target := loopbackTarget(serveLoopback(b, h))
	cases := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		h.srv.Store(newEmulator(b))
		b.StartTimer()
		rep, err := conformance.Check(context.Background(), target, conformance.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if !rep.OK() || len(rep.Leftovers) > 0 {
			b.Fatalf("%d violations, %d leftovers against the reference emulator; see TestZeroViolationsAcrossSeeds", len(rep.Errors()), len(rep.Leftovers))
		}
		cases += rep.Cases
	}
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(cases)/s, "cases/s")
	}
}

// captured is one request of a harness run, as it reached the endpoint, and its answer.
type captured struct {
	method, path, query, contentType string
	body                             []byte
	// params are the request's parameters; fresh is true when the request was validly
	// signed and not refused for its authentication, so a replay signs it again with a fresh
	// nonce and timestamp (the emulator refuses a reused nonce and, later, a stale
	// timestamp). Other requests (forged signatures, stale timestamps, reused nonces) are
	// replayed as they were and refused again.
	params url.Values
	fresh  bool
	status int
}

// authCodes are the error codes of the gateway's authentication refusals.
func authCodes() []string {
	var codes []string
	for _, id := range []string{spec.ErrSignatureMismatch, spec.ErrUnknownAccessKey, spec.ErrNonceReused,
		spec.ErrTimestampFormat, spec.ErrTimestampExpired, spec.ErrSignatureMethod, spec.ErrSignatureVersion} {
		if e, ok := spec.Default().ProtocolError(id); ok {
			codes = append(codes, e.Code)
		}
	}
	return codes
}

// theCapture is the capture BenchmarkRawCapacity replays, made once per process (the
// benchmark function runs several times to find its b.N).
var theCapture struct {
	once sync.Once
	reqs []captured
}

// captureRun runs the default check (seed 1) against a fresh emulator over loopback and
// returns every request the endpoint received, in the order it received them (the recorder
// serves one request at a time, so that order is the emulator's too).
func captureRun(tb testing.TB) []captured {
	tb.Helper()
	srv := newEmulator(tb)
	secret := spec.Default().Signature.ExampleAccessKeySecret
	auth := authCodes()
	var mu sync.Mutex
	var reqs []captured
	rec := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c := captured{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, contentType: r.Header.Get("Content-Type"), body: body}
		read := r.Clone(r.Context())
		read.Body = io.NopCloser(bytes.NewReader(body))
		c.params, _ = rpc.ReadParams(read, 0)
		r.Body = io.NopCloser(bytes.NewReader(body))
		out := httptest.NewRecorder()
		mu.Lock() // the arrival order is the order the emulator serves them in
		defer mu.Unlock()
		srv.ServeHTTP(out, r)
		c.status = out.Code
		if c.params != nil && r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodPost) {
			ok, _ := rpc.Verify(r.Method, c.params, secret)
			f := rpc.JSON
			if strings.Contains(out.Header().Get("Content-Type"), "xml") {
				f = rpc.XML
			}
			e, _ := rpc.DecodeError(f, out.Body.Bytes())
			c.fresh = ok && (out.Code == http.StatusOK || !slices.Contains(auth, e.Code))
		}
		reqs = append(reqs, c)
		for k, v := range out.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(out.Code)
		w.Write(out.Body.Bytes())
	})
	rep, err := conformance.Check(context.Background(), loopbackTarget(serveLoopback(tb, rec)), conformance.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	if !rep.OK() {
		tb.Fatalf("%d violations against the reference emulator", len(rep.Errors()))
	}
	return reqs
}

// wire renders request i of a replay: the captured request, signed again with a fresh nonce
// and timestamp where it was validly signed; replay names the emulator that serves it.
func (c *captured) wire(buf *bytes.Buffer, replay, nonce string, now time.Time) {
	query, body := c.query, c.body
	if c.fresh {
		p := url.Values{}
		for k, v := range c.params {
			p[k] = v
		}
		p.Set(rpc.ParamSignatureNonce, nonce)
		p.Set(rpc.ParamTimestamp, now.UTC().Format(spec.Default().Signature.TimestampLayout))
		p.Set(rpc.ParamSignature, rpc.Sign(c.method, p, spec.Default().Signature.ExampleAccessKeySecret))
		if c.method == http.MethodGet {
			query, body = rpc.EncodeForm(p), nil
		} else {
			query, body = "", []byte(rpc.EncodeForm(p))
		}
	}
	target := c.path
	if query != "" {
		target += "?" + query
	}
	fmt.Fprintf(buf, "%s %s HTTP/1.1\r\nHost: emulator\r\nX-Replay: %s\r\n", c.method, target, replay)
	if c.contentType != "" || c.fresh && c.method != http.MethodGet {
		ct := c.contentType
		if ct == "" {
			ct = rpc.FormContentType
		}
		fmt.Fprintf(buf, "Content-Type: %s\r\n", ct)
	}
	fmt.Fprintf(buf, "Content-Length: %d\r\n\r\n", len(body))
	buf.Write(body)
}

// replayRouter sends each request to the emulator of the connection that sent it (the
// X-Replay header), so every connection replays the run against an emulator of its own.
type replayRouter struct {
	emus []atomic.Pointer[emulator.Server]
}

func (rr *replayRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.Header.Get("X-Replay"))
	if err != nil || n < 0 || n >= len(rr.emus) {
		http.Error(w, "bad X-Replay", http.StatusBadRequest)
		return
	}
	rr.emus[n].Load().ServeHTTP(w, r)
}

// BenchmarkRawCapacity is the emulator's raw loopback capacity for the requests the default
// run sends: one harness run (seed 1) is captured, then every client goroutine of a wrk-like
// generator (as emulator's BenchmarkLoopbackMixedRaw: one keep-alive HTTP/1.1 connection,
// requests written by hand, answers read with http.ReadResponse) replays it in the captured
// order against an emulator of its own, a fresh one for each pass, so the endpoint sees the
// same work as in the harness run. One op is one request. same-status-% is how many answers
// had the status the harness run got (100 would be a perfect replay; concurrency in the
// harness run makes a few state-dependent answers differ).
func BenchmarkRawCapacity(b *testing.B) {
	defer tuning.Apply()() // as eipconform run and serve run
	theCapture.once.Do(func() { theCapture.reqs = captureRun(b) })
	reqs := theCapture.reqs
	if len(reqs) == 0 {
		b.Fatal("the capture run failed")
	}
	const maxClients = 64
	rr := &replayRouter{emus: make([]atomic.Pointer[emulator.Server], maxClients)}
	addr := serveLoopback(b, rr)[len("http://"):]
	var requests, same atomic.Int64
	loadgen.Parallel(b, addr, maxClients, func(n int64, conn *loadgen.Conn, pb *testing.PB) {
		var buf bytes.Buffer
		replay := strconv.FormatInt(n, 10)
		var local, localSame int64
		for i := 0; pb.Next(); i++ {
			j := i % len(reqs)
			if j == 0 {
				srv, err := emulator.New(emulator.Options{})
				if err != nil {
					b.Error(err)
					return
				}
				rr.emus[n].Store(srv)
			}
			buf.Reset()
			reqs[j].wire(&buf, replay, fmt.Sprintf("replay-%d-%d", n, i), time.Now())
			status, _, err := conn.Send(reqs[j].method, buf.Bytes())
			if err != nil {
				b.Error(err)
				return
			}
			local++
			if status == reqs[j].status {
				localSame++
			}
		}
		requests.Add(local)
		same.Add(localSame)
	})
	b.StopTimer()
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(requests.Load())/s, "req/s")
	}
	if n := requests.Load(); n > 0 {
		b.ReportMetric(100*float64(same.Load())/float64(n), "same-status-%")
	}
}

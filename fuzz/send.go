package fuzz

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
)

// inProcessEndpoint is the Endpoint of the client that signs requests for an in-process
// handler; no connection is ever made to it.
const inProcessEndpoint = "http://127.0.0.1"

// runner sends one operation's inputs to a target and judges the answers.
type runner struct {
	target Target
	sh     *shape
	oracle *oracle
	auth   bool

	mu      sync.Mutex
	h       http.Handler               // the in-process handler; nil: make one with target.New
	rec     *recorder                  // reused between in-process calls
	timer   *time.Timer                // the watchdog of in-process calls
	sending atomic.Pointer[url.Values] // the request being sent, for the watchdog
	client  *rpc.Client                // signed or out-of-process requests
}

func (r *runner) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer != nil {
		r.timer.Stop()
	}
	if r.client != nil {
		r.client.HTTP.CloseIdleConnections()
	}
}

// run sends one input and fails t on a violation.
func (r *runner) run(t *testing.T, args []string) {
	if err := r.do(args); err != nil {
		t.Fatalf("%v\n  target: %v\n  reproduce: %s", err, r.target, reproduce(t))
	}
}

// do sends one input and judges the answer.
func (r *runner) do(args []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, err := r.send(r.sh.request(args))
	if err == nil {
		v := spec.Default().Evaluate(a.params, spec.Options{Auth: r.auth})
		err = r.oracle.check(a.params, v, a.status, a.contentType, a.body)
	}
	if err != nil || r.sh.op.Mutates && a.status >= 200 && a.status < 300 {
		// The state may have changed, or led to the failure: the next input meets a fresh
		// handler.
		r.h = nil
	}
	return err
}

// reproduce says how to run the failing input again.
func reproduce(t *testing.T) string {
	name := t.Name()
	top, sub, ok := strings.Cut(name, "/")
	if !ok {
		return "go test -run '^" + regexp.QuoteMeta(name) + "$/<the file the engine wrote under testdata/fuzz/" + name + ">'"
	}
	return "go test -run '^" + regexp.QuoteMeta(top) + "$/^" + regexp.QuoteMeta(sub) + "$'"
}

// answered is an answer and the parameters it answers, as sent (with the signature parameters
// a signing client added).
type answered struct {
	params      url.Values
	status      int
	contentType string
	body        []byte
}

// send sends params to the target.
func (r *runner) send(params url.Values) (answered, error) {
	r.sending.Store(&params)
	if r.target.URL == "" && !r.auth {
		return r.sendInProcess(params)
	}
	if r.client == nil {
		r.client = &rpc.Client{
			Endpoint: r.target.URL, AccessKeyID: r.target.AccessKeyID, AccessKeySecret: r.target.AccessKeySecret,
			HTTP: &http.Client{Timeout: r.target.timeout()}, MaxBody: r.target.maxBody(),
		}
		if r.target.URL == "" {
			r.client.Endpoint = inProcessEndpoint
			r.client.HTTP.Transport = handlerTransport{r}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.target.timeout())
	defer cancel()
	resp, err := r.client.Do(ctx, params)
	if err != nil {
		switch {
		case errors.Is(err, rpc.ErrTooLarge):
			return answered{}, fmt.Errorf("%s: an answer larger than the target's MaxBody (%d bytes): %v", describe(params), r.target.maxBody(), err)
		case errors.Is(err, context.DeadlineExceeded):
			return answered{}, fmt.Errorf("%s: no answer within the target's Timeout (%v): a hang? %v", describe(params), r.target.timeout(), err)
		}
		return answered{}, fmt.Errorf("%s: the request could not be sent or its answer read: %v", describe(params), err)
	}
	return answered{params: resp.Params, status: resp.Status, contentType: resp.Header.Get("Content-Type"), body: resp.Body}, nil
}

// handler returns the in-process handler, making a fresh one with target.New when needed.
func (r *runner) handler() (http.Handler, error) {
	if r.target.New == nil {
		return r.target.Handler, nil
	}
	if r.h == nil {
		h, err := r.target.New()
		if err != nil {
			return nil, fmt.Errorf("fuzz: the target's New: %w", err)
		}
		if h == nil {
			return nil, errors.New("fuzz: the target's New returned a nil handler")
		}
		r.h = h
	}
	return r.h, nil
}

// sendInProcess is the fast path: an unsigned POST served by calling the handler directly.
func (r *runner) sendInProcess(params url.Values) (answered, error) {
	h, err := r.handler()
	if err != nil {
		return answered{}, err
	}
	body := rpc.EncodeForm(params)
	req := &http.Request{
		Method: http.MethodPost, URL: &url.URL{Path: "/"}, RequestURI: "/",
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Host: "127.0.0.1", RemoteAddr: "127.0.0.1:1024",
		Header:        http.Header{"Content-Type": {rpc.FormContentType}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
	}
	rec, err := r.serve(h, req)
	if err != nil {
		return answered{}, fmt.Errorf("%s: %w", describe(params), err)
	}
	return answered{params: params, status: rec.status, contentType: rec.contentType, body: rec.body}, nil
}

// serve calls h on the calling goroutine, under a watchdog: a handler that has not returned
// within the target's Timeout stops the process with every goroutine's stack (the hung
// handler's among them), as go test's -timeout does; the fuzzing engine records the input
// as a crasher. A handler's panic is recovered and returned as an error with its stack. The
// recorder returned is reused by the next call: copy what must outlive it.
func (r *runner) serve(h http.Handler, req *http.Request) (rec *recorder, err error) {
	ctx, cancel := context.WithCancel(req.Context())
	defer cancel()
	req = req.WithContext(ctx)
	if r.rec == nil {
		r.rec = &recorder{header: http.Header{}}
	}
	rec = r.rec
	rec.reset(r.target.maxBody())
	r.watch()
	defer func() {
		r.timer.Stop()
		if p := recover(); p != nil {
			r.rec, r.h = nil, nil // the handler may have left both half-way
			rec, err = nil, fmt.Errorf("the handler panicked: %v\n%s", p, debug.Stack())
		}
	}()
	h.ServeHTTP(rec, req)
	rec.finish()
	switch {
	case rec.over:
		return nil, fmt.Errorf("an answer larger than the target's MaxBody (%d bytes)", rec.max)
	case rec.status < 100 || rec.status > 599:
		return nil, fmt.Errorf("the handler wrote the HTTP status %d; want 100 to 599", rec.status)
	}
	return rec, nil
}

// watch arms the watchdog for the request in r.sending.
func (r *runner) watch() {
	timeout := r.target.timeout()
	if r.timer == nil {
		r.timer = time.AfterFunc(timeout, func() {
			debug.SetTraceback("all")
			panic(fmt.Sprintf("fuzz: %s: no answer within the target's Timeout (%v): the handler hangs", describe(*r.sending.Load()), timeout))
		})
		return
	}
	r.timer.Reset(timeout)
}

// recorder is a minimal http.ResponseWriter: the status, the Content-Type at the time the
// header was written (as a server sends it) and the body, up to a limit.
type recorder struct {
	header      http.Header
	status      int
	wrote       bool
	contentType string
	body        []byte
	max         int64
	over        bool
}

func (w *recorder) reset(max int64) {
	clear(w.header)
	w.status, w.wrote, w.contentType, w.body, w.max, w.over = 0, false, "", w.body[:0], max, false
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote, w.status, w.contentType = true, code, w.header.Get("Content-Type")
}

func (w *recorder) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if room := w.max - int64(len(w.body)); int64(len(p)) > room {
		w.body = append(w.body, p[:max(room, 0)]...)
		w.over = true
		return 0, errAnswerTooLarge
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

// finish is what a server does after the handler returns: a handler that wrote nothing
// answered 200 with an empty body.
func (w *recorder) finish() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
}

var errAnswerTooLarge = errors.New("fuzz: the answer is larger than the target's MaxBody")

// handlerTransport serves a signing client's requests with the runner's in-process handler.
type handlerTransport struct{ r *runner }

func (tr handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	h, err := tr.r.handler()
	if err != nil {
		return nil, err
	}
	if req.URL.Path == "" {
		req.URL.Path = "/"
	}
	req.RequestURI, req.RemoteAddr = req.URL.RequestURI(), "127.0.0.1:1024"
	rec, err := tr.r.serve(h, req)
	if err != nil {
		return nil, err
	}
	header := http.Header{}
	if rec.contentType != "" {
		header.Set("Content-Type", rec.contentType)
	}
	return &http.Response{
		Status: strconv.Itoa(rec.status) + " " + http.StatusText(rec.status), StatusCode: rec.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: header,
		Body: io.NopCloser(bytes.NewReader(bytes.Clone(rec.body))), ContentLength: int64(len(rec.body)), Request: req,
	}, nil
}

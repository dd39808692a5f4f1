package rpc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/eipconform/eipconform/spec"
)

// defaultHTTP is the HTTP client of a Client without one.
var defaultHTTP = &http.Client{Timeout: 10 * time.Second, CheckRedirect: NoRedirects}

// NoRedirects is an http.Client's CheckRedirect that returns a redirect as the answer
// instead of following it, as Client does with every http.Client.
//
//	hc := &http.Client{Timeout: 10 * time.Second, CheckRedirect: rpc.NoRedirects}
func NoRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Client signs and sends RPC requests; the conformance engine and the tests use it. The zero
// value of every field but Endpoint is usable.
//
//	c := &rpc.Client{Endpoint: "http://127.0.0.1:8080", AccessKeyID: "testid", AccessKeySecret: "testsecret"}
//	resp, err := c.Do(ctx, op.BaseRequest())
type Client struct {
	// Endpoint is the base URL, e.g. http://127.0.0.1:8080; requests go to its path, "/" if
	// it has none.
	Endpoint string
	// AccessKeyID and AccessKeySecret sign requests. With an empty AccessKeyID no signature
	// parameters are added (for endpoints that do not authenticate).
	AccessKeyID, AccessKeySecret string
	// HTTP sends the requests; nil means a client with a 10 s timeout. Redirects are never
	// followed, whatever its CheckRedirect: a 3xx is the endpoint's answer (following one could
	// send a signed request to a host nobody named). When its Transport is a *Transport (and it
	// has no Jar), Do calls the Transport directly, with HTTP.Timeout as the exchange's limit.
	HTTP *http.Client
	// MaxBody caps the response body read; 0 means DefaultMaxBody. A larger body is an error
	// wrapping ErrTooLarge.
	MaxBody int64
	// Now gives the Timestamp; nil means time.Now. It is sent in UTC in the spec's layout.
	Now func() time.Time
	// Nonce gives the SignatureNonce; nil means 16 random bytes (crypto/rand) in hex.
	Nonce func() string
	// Method is "GET" (parameters in the query) or any other method, such as "POST" (the
	// parameters as an application/x-www-form-urlencoded body); "" means POST, as the Go SDK.
	Method string
}

// Response is an endpoint's answer to Do.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// Format is what the Content-Type names (JSON for application/json or +json, XML for
	// application/xml, text/xml or +xml), else the format requested.
	Format Format
	// Error is the decoded error body when Status is not 2xx and the body could be read, in
	// part at least (see DecodeError).
	Error *ErrorBody
	// ErrorDecode is why the error body did not decode, or what deviates in it; nil for a
	// well-formed error body and for successes.
	ErrorDecode error
	// Params are the parameters as sent, signature included (the secret never is), for
	// failure messages and reproducing the request.
	Params url.Values

	success struct { // Success's and SuccessJSON's results, computed once
		once  sync.Once
		value any
		json  []byte
		err   error
	}
}

// Success decodes the body as a success body of schema (DecodeSuccess, in the response's
// Format) and returns the value and the body as JSON: the body itself when it is JSON, the
// value marshalled when it is XML. It decodes once; later calls return the first call's
// result, whatever their schema, so pass the operation's 200 schema every time.
//
//	v, data, err := resp.Success(op.SuccessSchema().Value)
func (r *Response) Success(schema *openapi3.Schema) (value any, jsonBody []byte, err error) {
	s := &r.success
	s.once.Do(func() {
		_, s.value, s.err = DecodeSuccess(r.Format, r.Body, schema)
		switch {
		case s.err != nil:
		case r.Format == XML:
			s.json, s.err = json.Marshal(s.value)
		default:
			s.json = r.Body
		}
	})
	return s.value, s.json, s.err
}

// SuccessJSON returns a success body as JSON: a JSON body as it is, unchecked (decoding it
// is the caller's business, and the cheapest way to check it), an XML body decoded as Success
// does and marshalled. Success's value is then ready too.
//
//	data, err := resp.SuccessJSON(op.SuccessSchema().Value)
//	err = json.Unmarshal(data, &page)
func (r *Response) SuccessJSON(schema *openapi3.Schema) ([]byte, error) {
	if r.Format != XML {
		return r.Body, nil
	}
	_, data, err := r.Success(schema)
	return data, err
}

// Do completes params with the common parameters and sends them. It adds Format (the spec's
// default) and, when the client has an AccessKeyID, Timestamp, SignatureMethod,
// SignatureVersion, SignatureNonce and AccessKeyId (the spec's values); a parameter the
// caller already set is kept as it is, so malformed, stale or reused values can be sent on
// purpose. Then, unless the caller set a Signature, it signs everything (Sign with the
// client's method). params itself is never modified.
//
// The context's deadline and cancellation apply to the whole exchange, body included.
// A transport error or a response body over MaxBody is an error; any HTTP status is a
// Response.
//
//	resp, err := c.Do(ctx, url.Values{"Action": {"ReleaseEipAddress"}, "Version": {"2016-04-28"}, "AllocationId": {id}})
func (c *Client) Do(ctx context.Context, params url.Values) (*Response, error) {
	method := strings.ToUpper(c.Method)
	if method == "" {
		method = http.MethodPost
	}
	p := c.complete(method, params)

	u, err := url.Parse(c.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("rpc: endpoint %q: %w", c.Endpoint, err)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	var body io.Reader
	if method == http.MethodGet {
		u.RawQuery = EncodeForm(p)
	} else {
		u.RawQuery = ""
		body = strings.NewReader(EncodeForm(p))
	}
	hc := defaultHTTP
	if c.HTTP != nil {
		hc = c.HTTP
	}
	// Through a Transport, the exchange runs on this goroutine, bounded by a context with
	// the client's timeout (http.Client would start a timer goroutine for every request).
	t, direct := hc.Transport.(*Transport)
	direct = direct && hc.Jar == nil
	if direct && hc.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, hc.Timeout, fmt.Errorf("no answer within the client's timeout (%v)", hc.Timeout))
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("rpc: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", FormContentType)
	}
	var resp *http.Response
	if direct {
		resp, err = t.RoundTrip(req)
		err = withCause(ctx, err)
	} else {
		noFollow := *hc
		noFollow.CheckRedirect = NoRedirects
		resp, err = noFollow.Do(req)
	}
	if err != nil {
		return nil, fmt.Errorf("rpc: %s %s: %w", method, u.Redacted(), err)
	}
	defer resp.Body.Close()
	limit := c.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	data, err := readBody(resp.Body, resp.ContentLength, limit)
	if err != nil {
		return nil, fmt.Errorf("rpc: reading the response body: %w", withCause(ctx, err))
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("rpc: response body more than %d bytes (Client.MaxBody): %w", limit, ErrTooLarge)
	}

	r := &Response{Status: resp.StatusCode, Header: resp.Header, Body: data, Params: p}
	var ok bool
	if r.Format, ok = FormatOf(resp.Header.Get("Content-Type")); !ok {
		r.Format, _ = ParseFormat(p.Get(ParamFormat), DefaultFormat())
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e, err := DecodeError(r.Format, data)
		r.ErrorDecode = err
		var be *BodyError
		if err == nil || errors.As(err, &be) && be.Partial {
			r.Error = &e
		}
	}
	return r, nil
}

// withCause adds to err why ctx ended, when it ended with a cause of its own (the client's
// timeout).
func withCause(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && context.Cause(ctx) != ctx.Err() {
		return fmt.Errorf("%w: %w", context.Cause(ctx), err)
	}
	return err
}

// readBody reads at most limit+1 bytes of a body (one more than allowed shows it is too
// long); a body whose Content-Length is within the limit is read into a buffer of that size
// (net/http ends such a body at its Content-Length, and reports a shorter one).
func readBody(r io.Reader, length, limit int64) ([]byte, error) {
	if length < 0 || length > limit {
		return io.ReadAll(io.LimitReader(r, limit+1))
	}
	buf := make([]byte, length)
	n, err := io.ReadFull(r, buf)
	return buf[:n], err
}

// complete returns a copy of params with the common parameters added and signed.
func (c *Client) complete(method string, params url.Values) url.Values {
	p, slab := cloneValues(params, 7) // the common parameters complete adds at most
	setDefault := func(name string, value func() string) {
		if _, ok := p[name]; !ok {
			p[name] = slab.add(value())
		}
	}
	setDefault(ParamFormat, func() string { return string(DefaultFormat()) })
	if c.AccessKeyID == "" {
		return p
	}
	sig := spec.Default().Signature
	now, nonce := c.Now, c.Nonce
	if now == nil {
		now = time.Now
	}
	if nonce == nil {
		nonce = randomNonce
	}
	setDefault(ParamTimestamp, func() string { return now().UTC().Format(sig.TimestampLayout) })
	setDefault(ParamSignatureMethod, func() string { return sig.Method })
	setDefault(ParamSignatureVersion, func() string { return sig.Version })
	setDefault(ParamSignatureNonce, nonce)
	setDefault(ParamAccessKeyID, func() string { return c.AccessKeyID })
	setDefault(ParamSignature, func() string { return Sign(method, p, c.AccessKeySecret) })
	return p
}

// randomNonce returns 16 random bytes in hex.
func randomNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand.Read crashes the program instead)
	return hex.EncodeToString(b)
}

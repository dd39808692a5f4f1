package rpc_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
)

// fixedClient returns a client for srv with a fixed clock and nonce.
func fixedClient(srv *verifyServer, method string) *rpc.Client {
	id, secret := testKey()
	return &rpc.Client{
		Endpoint: srv.URL, AccessKeyID: id, AccessKeySecret: secret, Method: method,
		Now:   func() time.Time { return time.Date(2024, 5, 6, 7, 8, 9, 0, time.FixedZone("CST", 8*3600)) },
		Nonce: func() string { return "nonce-1" },
	}
}

func TestClientDo(t *testing.T) {
	op, ex := example(t, "ReleaseEipAddress")
	srv := newVerifyServer(t, func(w http.ResponseWriter, r *http.Request, params url.Values) {
		format, _ := rpc.ParseFormat(params.Get(rpc.ParamFormat), rpc.DefaultFormat())
		_ = rpc.WriteSuccess(w, format, op.XMLRoot(), op.SuccessSchema().Value, ex)
	})
	sig := spec.Default().Signature
	id, _ := testKey()
	in := url.Values{"Action": {op.Action}, "Version": {op.Version}, "AllocationId": {"eip-1 名*~"}}
	for _, method := range []string{"", "POST", "get", "GET"} {
		t.Run("method "+method, func(t *testing.T) {
			before := cloneValues(in)
			resp, err := fixedClient(srv, method).Do(context.Background(), in)
			if err != nil {
				t.Fatalf("Do(%v) = %v", in, err)
			}
			if diff := cmp.Diff(before, in); diff != "" {
				t.Errorf("Do modified the caller's params (-before +after):\n%s", diff)
			}
			c := srv.last(t)
			if !c.ok {
				t.Fatalf("the server's Verify rejected the client's %s request\nquery %q body %q\nstring to sign %s", c.method, c.rawQuery, c.body, c.stringToSig)
			}
			wantMethod := strings.ToUpper(method)
			if wantMethod == "" {
				wantMethod = "POST"
			}
			if c.method != wantMethod {
				t.Errorf("sent %s, want %s", c.method, wantMethod)
			}
			if wantMethod == "GET" && (c.body != "" || c.rawQuery == "") {
				t.Errorf("GET sent query %q and body %q; want the parameters in the query only", c.rawQuery, c.body)
			}
			if wantMethod == "POST" && (c.rawQuery != "" || c.body == "" || c.contentType != rpc.FormContentType) {
				t.Errorf("POST sent query %q, body %q, Content-Type %q; want the parameters in a form body only", c.rawQuery, c.body, c.contentType)
			}
			want := url.Values{
				"Action": {op.Action}, "Version": {op.Version}, "AllocationId": {"eip-1 名*~"},
				"Format": {spec.Default().DefaultFormat}, "AccessKeyId": {id},
				"SignatureMethod": {sig.Method}, "SignatureVersion": {sig.Version}, "SignatureNonce": {"nonce-1"},
				"Timestamp": {"2024-05-05T23:08:09Z"},
			}
			got := cloneValues(c.params)
			got.Del(rpc.ParamSignature)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("parameters the server read mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.params, resp.Params); diff != "" {
				t.Errorf("Response.Params differ from what the server read (-server +response):\n%s", diff)
			}
			if resp.Status != 200 || resp.Error != nil || resp.ErrorDecode != nil || resp.Format != rpc.DefaultFormat() {
				t.Errorf("Response = status %d, error %v, decode %v, format %s; want 200, nil, nil, %s", resp.Status, resp.Error, resp.ErrorDecode, resp.Format, rpc.DefaultFormat())
			}
		})
	}

	t.Run("XML success", func(t *testing.T) {
		p := with(in, func(p url.Values) { p.Set(rpc.ParamFormat, "xml") })
		resp, err := fixedClient(srv, "").Do(context.Background(), p)
		if err != nil {
			t.Fatalf("Do = %v", err)
		}
		root, v, err := rpc.DecodeSuccess(resp.Format, resp.Body, op.SuccessSchema().Value)
		if resp.Format != rpc.XML || err != nil || root != op.XMLRoot() {
			t.Fatalf("Format=xml: response format %s, DecodeSuccess = %q, %v, %v; want XML, %q\nbody: %s", resp.Format, root, v, err, op.XMLRoot(), resp.Body)
		}
		if diff := cmp.Diff(ex, v); diff != "" {
			t.Errorf("decoded XML success mismatch (-example +got):\n%s", diff)
		}
	})

	t.Run("caller's values kept and signed", func(t *testing.T) {
		p := with(in, func(p url.Values) {
			p.Set(rpc.ParamTimestamp, "not a time")
			p.Set(rpc.ParamSignatureMethod, "HMAC-SHA256")
			p.Set(rpc.ParamSignatureNonce, "")
			p.Set(rpc.ParamFormat, "")
		})
		if _, err := fixedClient(srv, "").Do(context.Background(), p); err != nil {
			t.Fatalf("Do = %v", err)
		}
		c := srv.last(t)
		for _, name := range []string{rpc.ParamTimestamp, rpc.ParamSignatureMethod, rpc.ParamSignatureNonce, rpc.ParamFormat} {
			if got, want := c.params[name], p[name]; !cmp.Equal(got, want) {
				t.Errorf("the client sent %s = %q; want the caller's %q", name, got, want)
			}
		}
		if !c.ok {
			t.Errorf("Verify rejected a request with the caller's values; want them signed")
		}
	})

	t.Run("caller's Signature sent as is", func(t *testing.T) {
		p := with(in, func(p url.Values) { p.Set(rpc.ParamSignature, "forged=") })
		if _, err := fixedClient(srv, "").Do(context.Background(), p); err != nil {
			t.Fatalf("Do = %v", err)
		}
		if c := srv.last(t); c.params.Get(rpc.ParamSignature) != "forged=" || c.ok {
			t.Errorf("sent Signature %q, verified %v; want forged= and false", c.params.Get(rpc.ParamSignature), c.ok)
		}
	})

	t.Run("no AccessKeyID, no signature parameters", func(t *testing.T) {
		c := &rpc.Client{Endpoint: srv.URL}
		if _, err := c.Do(context.Background(), in); err != nil {
			t.Fatalf("Do = %v", err)
		}
		want := with(in, func(p url.Values) { p.Set(rpc.ParamFormat, spec.Default().DefaultFormat) })
		if diff := cmp.Diff(want, srv.last(t).params); diff != "" {
			t.Errorf("unsigned request parameters mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("default nonce and clock", func(t *testing.T) {
		_, secret := testKey()
		c := &rpc.Client{Endpoint: srv.URL, AccessKeyID: id, AccessKeySecret: secret}
		seen := map[string]bool{}
		for range 3 {
			if _, err := c.Do(context.Background(), in); err != nil {
				t.Fatalf("Do = %v", err)
			}
			p := srv.last(t).params
			nonce := p.Get(rpc.ParamSignatureNonce)
			if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(nonce) || seen[nonce] {
				t.Errorf("default nonce %q: want 32 hex digits, fresh each time (seen %v)", nonce, seen)
			}
			seen[nonce] = true
			ts, err := time.Parse(sig.TimestampLayout, p.Get(rpc.ParamTimestamp))
			if err != nil || time.Since(ts).Abs() > time.Minute {
				t.Errorf("default Timestamp %q: want now in layout %s (%v)", p.Get(rpc.ParamTimestamp), sig.TimestampLayout, err)
			}
		}
	})
}

func TestClientErrors(t *testing.T) {
	errBody := rpc.ErrorBody{RequestId: "r", Code: "Some.Code", Message: "m"}
	var respond func(w http.ResponseWriter)
	srv := newVerifyServer(t, func(w http.ResponseWriter, r *http.Request, params url.Values) { respond(w) })
	client := fixedClient(srv, "")
	do := func(t *testing.T, r func(w http.ResponseWriter), params url.Values) *rpc.Response {
		t.Helper()
		respond = r
		resp, err := client.Do(context.Background(), params)
		if err != nil {
			t.Fatalf("Do = %v", err)
		}
		return resp
	}

	t.Run("XML error read by Content-Type", func(t *testing.T) {
		resp := do(t, func(w http.ResponseWriter) { rpc.WriteError(w, rpc.XML, 404, errBody) }, url.Values{"Format": {"JSON"}})
		if resp.Status != 404 || resp.Format != rpc.XML || resp.Error == nil || *resp.Error != errBody || resp.ErrorDecode != nil {
			t.Errorf("Response = status %d, format %s, error %+v, decode %v; want 404, XML, %+v, nil", resp.Status, resp.Format, resp.Error, resp.ErrorDecode, errBody)
		}
	})
	t.Run("no Content-Type: the requested format", func(t *testing.T) {
		resp := do(t, func(w http.ResponseWriter) {
			w.Header()["Content-Type"] = nil
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`<Error><RequestId>r</RequestId><Code>C</Code><Message>m</Message></Error>`))
		}, url.Values{"Format": {"xml"}})
		if resp.Format != rpc.XML || resp.Error == nil || resp.Error.Code != "C" {
			t.Errorf("Response = format %s, error %+v, decode %v; want XML and Code C", resp.Format, resp.Error, resp.ErrorDecode)
		}
	})
	t.Run("numeric Code: read, and reported", func(t *testing.T) {
		resp := do(t, func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"RequestId":"r","Code":400,"Message":"m"}`))
		}, url.Values{})
		if resp.Error == nil || resp.Error.Code != "400" || resp.ErrorDecode == nil {
			t.Errorf("Response = error %+v, decode %v; want Code 400 and a decode error", resp.Error, resp.ErrorDecode)
		}
	})
	t.Run("garbage error body", func(t *testing.T) {
		resp := do(t, func(w http.ResponseWriter) { http.Error(w, "bad gateway", 502) }, url.Values{})
		if resp.Status != 502 || resp.Error != nil || resp.ErrorDecode == nil {
			t.Errorf("Response = status %d, error %+v, decode %v; want 502, nil, an error", resp.Status, resp.Error, resp.ErrorDecode)
		}
	})
	t.Run("body over MaxBody", func(t *testing.T) {
		respond = func(w http.ResponseWriter) { _, _ = w.Write([]byte(strings.Repeat("x", 2048))) }
		c := *client
		c.MaxBody = 1024
		resp, err := c.Do(context.Background(), url.Values{})
		if !errors.Is(err, rpc.ErrTooLarge) || resp != nil {
			t.Errorf("Do with a 2048-byte body and MaxBody 1024 = %v, %v; want nil and an error wrapping ErrTooLarge", resp, err)
		}
		c.MaxBody = 2048
		if _, err := c.Do(context.Background(), url.Values{}); err != nil {
			t.Errorf("Do with a 2048-byte body and MaxBody 2048 = %v, want success", err)
		}
	})
	t.Run("context deadline", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		respond = func(w http.ResponseWriter) {
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		resp, err := client.Do(ctx, url.Values{})
		if !errors.Is(err, context.DeadlineExceeded) || resp != nil {
			t.Errorf("Do with a 50ms deadline against a stalled server = %v, %v; want nil and context.DeadlineExceeded", resp, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Do returned after %v; want about the 50ms deadline", d)
		}
	})
	t.Run("bad endpoint", func(t *testing.T) {
		for _, endpoint := range []string{"://x", "http://127.0.0.1:1"} {
			c := &rpc.Client{Endpoint: endpoint}
			if resp, err := c.Do(context.Background(), url.Values{}); err == nil {
				t.Errorf("Do to %q = %v, nil; want an error", endpoint, resp)
			}
		}
	})
}

// TestClientNeverFollowsRedirects: a 3xx is the answer, with or without an http.Client of the
// caller's; the host it points to never sees a request.
func TestClientNeverFollowsRedirects(t *testing.T) {
	var followed atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { followed.Add(1) }))
	defer elsewhere.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/", http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	for _, hc := range []*http.Client{nil, {Timeout: 5 * time.Second}, {CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}} {
		c := &rpc.Client{Endpoint: redirect.URL, AccessKeyID: "id", AccessKeySecret: "secret", HTTP: hc}
		resp, err := c.Do(context.Background(), url.Values{"Action": {"DescribeEipAddresses"}})
		if err != nil || resp.Status != http.StatusTemporaryRedirect {
			t.Errorf("Do against a redirecting endpoint (HTTP %v) = %v, %v; want the 307 as the answer", hc != nil, resp, err)
		}
	}
	if n := followed.Load(); n != 0 {
		t.Errorf("the redirect's target got %d requests; want none", n)
	}
}

package emulator_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/eipconform/eipconform/emulator"
	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
)

// clock is a settable clock for deterministic tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) add(d time.Duration)     { c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)} }
func versionOf(action string) string     { return spec.Default().Operation(action).Version }
func opOf(action string) *spec.Operation { return spec.Default().Operation(action) }

// env is an emulator behind an httptest server with a signing client.
type env struct {
	t      *testing.T
	srv    *emulator.Server
	clock  *clock
	client *rpc.Client
}

func newEnv(t *testing.T, opts emulator.Options) *env {
	t.Helper()
	srv, c := newServer(t, opts)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	sig := spec.Default().Signature
	cl := &rpc.Client{Endpoint: ts.URL, AccessKeyID: sig.ExampleAccessKeyID, AccessKeySecret: sig.ExampleAccessKeySecret, Now: c.now}
	if opts.NoAuth {
		cl.AccessKeyID = ""
	}
	return &env{t: t, srv: srv, clock: c, client: cl}
}

// call sends action with "k", "v" pairs (RegionId cn-hangzhou unless given).
func (e *env) call(action string, kv ...string) *rpc.Response {
	e.t.Helper()
	p := url.Values{"Action": {action}, "Version": {versionOf(action)}}
	if action != "AllocatePublicIpAddress" {
		p.Set("RegionId", "cn-hangzhou")
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<del>" {
			p.Del(kv[i])
			continue
		}
		p.Set(kv[i], kv[i+1])
	}
	r, err := e.client.Do(context.Background(), p)
	if err != nil {
		e.t.Fatalf("%s %s: %v", action, p.Encode(), err)
	}
	return r
}

// ok requires a 2xx and returns the decoded JSON body.
func (e *env) ok(action string, kv ...string) map[string]any {
	e.t.Helper()
	r := e.call(action, kv...)
	if r.Status != 200 {
		e.t.Fatalf("%s %v: got %d %s, want 200", action, kv, r.Status, r.Body)
	}
	_, v, err := rpc.DecodeSuccess(r.Format, r.Body, opOf(action).SuccessSchema().Value)
	if err != nil {
		e.t.Fatalf("%s: decode %s: %v", action, r.Body, err)
	}
	if err := opOf(action).SuccessSchema().Value.VisitJSON(v); err != nil {
		e.t.Fatalf("%s: success body %s does not match the spec's schema: %v", action, r.Body, err)
	}
	return v.(map[string]any)
}

// fails requires the error the spec's state rule of kind maps to for action.
func (e *env) fails(kind spec.StateKind, action string, kv ...string) {
	e.t.Helper()
	want := opOf(action).StateRule(kind)
	if want == nil || want.Error == nil {
		e.t.Fatalf("test bug: %s has no state rule %s", action, kind)
	}
	e.failsWith(want.Error.Status, want.Error.Code, action, kv...)
}

func (e *env) failsWith(status int, code, action string, kv ...string) {
	e.t.Helper()
	r := e.call(action, kv...)
	got := ""
	if r.Error != nil {
		got = r.Error.Code
	}
	if r.Status != status || got != code {
		e.t.Fatalf("%s %v: got %d %s (%s), want %d %s", action, kv, r.Status, got, r.Body, status, code)
	}
	if r.Error.RequestId == "" || r.Error.Message == "" || r.Error.HostId == "" || r.Error.Recommend == "" {
		e.t.Errorf("%s %v: error body %s lacks RequestId, HostId, Message or Recommend", action, kv, r.Body)
	}
}

func str(v map[string]any, k string) string { s, _ := v[k].(string); return s }

package fuzz_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/eipconform/eipconform/fuzz"
	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
)

// request returns op's minimal request with the "name", "value" pairs set.
func request(action string, kv ...string) url.Values {
	p := spec.Default().Operation(action).BaseRequest()
	for i := 0; i+1 < len(kv); i += 2 {
		p.Set(kv[i], kv[i+1])
	}
	return p
}

// successBody returns the operation's first documented success example as JSON, or, with
// format XML, as WriteSuccess renders it.
func successBody(t *testing.T, action string, format rpc.Format) []byte {
	t.Helper()
	op := spec.Default().Operation(action)
	rec := httptest.NewRecorder()
	if err := rpc.WriteSuccess(rec, format, op.XMLRoot(), op.SuccessSchema().Value, op.Examples[0].Value); err != nil {
		t.Fatalf("WriteSuccess(%s example) = %v", action, err)
	}
	return rec.Body.Bytes()
}

// errorBody returns a well-formed error body with code.
func errorBody(t *testing.T, format rpc.Format, status int, code string) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	rpc.WriteError(rec, format, status, rpc.ErrorBody{RequestId: "r-1", Code: code, Message: "m"})
	return rec.Body.Bytes()
}

// firstError returns the verdict's first acceptable error for p.
func firstError(t *testing.T, p url.Values) spec.Expected {
	t.Helper()
	v := spec.Default().Evaluate(p, spec.Options{})
	if v.Outcome != spec.Reject {
		t.Fatalf("test bug: %v is not rejected: %v", p, v)
	}
	return v.Errors[0]
}

// stateError returns the error of op's state rule kind.
func stateError(t *testing.T, action string, kind spec.StateKind) spec.ErrorRef {
	t.Helper()
	r := spec.Default().Operation(action).StateRule(kind)
	if r == nil || r.Error == nil {
		t.Fatalf("test bug: %s has no state rule %s with an error", action, kind)
	}
	return *r.Error
}

// TestCheck feeds the oracle answers a correct endpoint gives and answers of broken ones; each
// broken answer must be caught, with a message naming what is wrong.
func TestCheck(t *testing.T) {
	const (
		jsonCT = rpc.JSONContentType
		xmlCT  = rpc.XMLContentType
	)
	valid := request("AllocateEipAddress")
	tooWide := request("AllocateEipAddress", "Bandwidth", "501")
	tooWideErr := firstError(t, tooWide)
	release := request("ReleaseEipAddress")
	notFound := stateError(t, "ReleaseEipAddress", spec.StateEipNotFound)
	quota := stateError(t, "AllocateEipAddress", spec.StateQuotaExceeded)
	missing, _ := spec.Default().ProtocolError(spec.ErrMissingParameter)
	unavailable, _ := spec.Default().ProtocolError(spec.ErrUnavailable)
	xmlWanted := request("AllocateEipAddress", rpc.ParamFormat, string(rpc.XML))
	wrongRoot := strings.Replace(string(successBody(t, "AllocateEipAddress", rpc.XML)), spec.Default().Operation("AllocateEipAddress").XMLRoot(), "Wrong", 2)

	tests := []struct {
		name        string
		params      url.Values
		status      int
		contentType string
		body        []byte
		want        string // a part of the error; "" for none
	}{
		{"accept: success", valid, 200, jsonCT, successBody(t, "AllocateEipAddress", rpc.JSON), ""},
		{"accept: success in XML", xmlWanted, 200, xmlCT, successBody(t, "AllocateEipAddress", rpc.XML), ""},
		{"accept: a state error", release, notFound.Status, jsonCT, errorBody(t, rpc.JSON, notFound.Status, notFound.Code), ""},
		{"reject: the documented error", tooWide, tooWideErr.Status, jsonCT, errorBody(t, rpc.JSON, tooWideErr.Status, tooWideErr.Code), ""},
		{"reject: the documented error in XML", tooWide, tooWideErr.Status, xmlCT, errorBody(t, rpc.XML, tooWideErr.Status, tooWideErr.Code), ""},
		{"no Content-Type: the requested format", valid, 200, "", successBody(t, "AllocateEipAddress", rpc.JSON), ""},

		{"200 to a rejected request", tooWide, 200, jsonCT, successBody(t, "AllocateEipAddress", rpc.JSON), "accepted what the contract rejects: got 200 success, want reject: " + tooWideErr.Ref().String()},
		{"500 to a valid request", valid, 500, jsonCT, errorBody(t, rpc.JSON, 500, "InternalError"), "a 5xx the contract does not map this request to: got 500 InternalError"},
		{"503 (a recovered panic) to a rejected request", tooWide, unavailable.Status, jsonCT, errorBody(t, rpc.JSON, unavailable.Status, unavailable.Code), "a 5xx"},
		{"an unknown Code", tooWide, 400, jsonCT, errorBody(t, rpc.JSON, 400, "NoSuchCode"), "an error the spec does not know for AllocateEipAddress: got 400 NoSuchCode"},
		{"a known Code with another status", tooWide, 418, jsonCT, errorBody(t, rpc.JSON, 418, tooWideErr.Code), "does not know"},
		{"another operation's state error", valid, notFound.Status, jsonCT, errorBody(t, rpc.JSON, notFound.Status, notFound.Code), "does not know"},
		{"a rule's error to a valid request", valid, tooWideErr.Status, jsonCT, errorBody(t, rpc.JSON, tooWideErr.Status, tooWideErr.Code), "rejected what the contract accepts: got " + tooWideErr.Ref().String() + ", want a 2xx or a state error ("},
		{"a state error, not the documented one", tooWide, quota.Status, jsonCT, errorBody(t, rpc.JSON, quota.Status, quota.Code), "not the one the contract wants"},
		{"a protocol error to a valid unsigned request", valid, missing.Status, jsonCT, errorBody(t, rpc.JSON, missing.Status, missing.Code), "does the endpoint authenticate"},
		{"a schema-invalid success body", valid, 200, jsonCT, []byte(`{"RequestId":5,"AllocationId":"eip-1"}`), "does not match the response schema"},
		{"a success body that is not JSON", valid, 200, jsonCT, []byte(`<xml/>`), "the success body does not decode"},
		{"a truncated success body", valid, 200, jsonCT, successBody(t, "AllocateEipAddress", rpc.JSON)[:20], "the success body does not decode"},
		{"the wrong XML root", xmlWanted, 200, xmlCT, []byte(wrongRoot), "XML root: got <Wrong>"},
		{"JSON to Format=XML", xmlWanted, 200, jsonCT, successBody(t, "AllocateEipAddress", rpc.JSON), "not in the requested format"},
		{"a numeric Code", tooWide, tooWideErr.Status, jsonCT, []byte(`{"RequestId":"r","Code":400,"Message":"m"}`), "the error body is malformed"},
		{"an error body without Code", tooWide, tooWideErr.Status, jsonCT, []byte(`{"RequestId":"r","Message":"m"}`), "the error body is malformed: got rpc: JSON body: missing Code"},
		{"an empty error body", tooWide, tooWideErr.Status, jsonCT, nil, "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := fuzz.Check(tt.params, false, tt.status, tt.contentType, tt.body)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Check(%v, %d %s) = %v, want nil", tt.params, tt.status, tt.body, err)
			case tt.want != "" && err == nil:
				t.Errorf("Check(%v, %d %s) = nil, want an error containing %q", tt.params, tt.status, tt.body, tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("Check(%v, %d %s) = %v\nwant an error containing %q", tt.params, tt.status, tt.body, err, tt.want)
			}
		})
	}
}

// TestCheckMessage pins the shape of a violation: the request first (signature parameters
// left out), then got and want, then the answer, control characters escaped.
func TestCheckMessage(t *testing.T) {
	p := request("AllocateEipAddress", "Bandwidth", "501", "Name", "a b\x1b[2J")
	p.Set(rpc.ParamSignature, "c2lnbmF0dXJl")
	p.Set(rpc.ParamAccessKeyID, "testid")
	err := fuzz.Check(p, true, 200, rpc.JSONContentType, []byte("{\"RequestId\":\"\x1b[2J\"}"))
	if err == nil {
		t.Fatalf("Check(%v, 200) = nil, want an error", p)
	}
	msg := err.Error()
	for _, want := range []string{
		`AllocateEipAddress [Bandwidth=501 Name="a b\x1b[2J" RegionId=cn-hangzhou]: the endpoint accepted what the contract rejects: got 200 success, want reject: `,
		"\n  answer: 200 \"{\\\"RequestId\\\":\\\"\\x1b[2J\\\"}\"",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("Check's message lacks %q:\n%s", want, msg)
		}
	}
	for _, secretish := range []string{"c2lnbmF0dXJl", "testid", "\x1b"} {
		if strings.Contains(msg, secretish) {
			t.Errorf("Check's message contains %q:\n%s", secretish, msg)
		}
	}
}

// TestCheckEmulator runs every seed of every operation through the emulator, as the fuzz
// targets do, and additionally asks the emulator itself: a correct endpoint passes Check.
func TestCheckEmulator(t *testing.T) {
	srv, _, err := setup()
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range spec.Default().Operations {
		for _, c := range op.Cases() {
			body := rpc.EncodeForm(c.Params)
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
			r.Header.Set("Content-Type", rpc.FormContentType)
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, r)
			if err := fuzz.Check(c.Params, false, rec.Code, rec.Header().Get("Content-Type"), rec.Body.Bytes()); err != nil {
				t.Errorf("%s %s: %v", op.Action, c.Name, err)
			}
		}
	}
}

// TestSetupIsDeterministic checks that every fresh fuzz emulator has the same IDs, which the
// seeds name.
func TestSetupIsDeterministic(t *testing.T) {
	_, first, err := setup()
	if err != nil {
		t.Fatal(err)
	}
	_, second, err := setup()
	if err != nil {
		t.Fatal(err)
	}
	if a, b := jsonOf(first), jsonOf(second); a != b {
		t.Errorf("two fresh fuzz emulators differ: %s, then %s", a, b)
	}
	if first.available == "" || first.inUse == "" || first.available == first.inUse {
		t.Errorf("setup made EIPs %q and %q; want two different AllocationIds", first.available, first.inUse)
	}
}

func jsonOf(l live) string {
	b, _ := json.Marshal(map[string]any{"region": l.region, "available": l.available, "inUse": l.inUse, "instances": l.instances})
	return string(b)
}

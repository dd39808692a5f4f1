package rpc_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
)

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in     string
		def    rpc.Format
		want   rpc.Format
		wantOK bool
	}{
		{"JSON", rpc.XML, rpc.JSON, true},
		{"json", rpc.XML, rpc.JSON, true},
		{"XML", rpc.JSON, rpc.XML, true},
		{"xml", rpc.JSON, rpc.XML, true},
		{"Xml", rpc.JSON, rpc.XML, true},
		{"", rpc.XML, rpc.XML, true},
		{"yaml", rpc.JSON, rpc.JSON, false},
		{" JSON", rpc.XML, rpc.XML, false},
	}
	for _, tt := range tests {
		got, ok := rpc.ParseFormat(tt.in, tt.def)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ParseFormat(%q, %s) = %s, %v; want %s, %v", tt.in, tt.def, got, ok, tt.want, tt.wantOK)
		}
	}
	for _, f := range spec.Default().Formats {
		if got, ok := rpc.ParseFormat(f, ""); !ok || string(got) != f {
			t.Errorf("ParseFormat(%q) = %q, %v for a format of the spec's x-rpc.formats; want %q, true", f, got, ok, f)
		}
	}
	if got := rpc.DefaultFormat(); string(got) != spec.Default().DefaultFormat {
		t.Errorf("DefaultFormat() = %q, want the spec's %q", got, spec.Default().DefaultFormat)
	}
}

func TestProtocolErrorBody(t *testing.T) {
	pe, _ := spec.Default().ProtocolError(spec.ErrMissingParameter)
	status, body, ok := rpc.ProtocolErrorBody(spec.ErrMissingParameter, "r-1", "RegionId")
	want := rpc.ErrorBody{RequestId: "r-1", Code: pe.Code, Message: strings.Replace(pe.Message, "%s", "RegionId", 1)}
	if !ok || status != pe.Status || body != want {
		t.Errorf("ProtocolErrorBody(%s, r-1, RegionId) = %d, %+v, %v; want %d, %+v, true", spec.ErrMissingParameter, status, body, ok, pe.Status, want)
	}
	if _, body, _ := rpc.ProtocolErrorBody(spec.ErrNonceReused, "r"); strings.Contains(body.Message, "%!") {
		t.Errorf("ProtocolErrorBody without args = %q, want the message unformatted", body.Message)
	}
	if _, _, ok := rpc.ProtocolErrorBody("no-such-error", "r"); ok {
		t.Errorf("ProtocolErrorBody(no-such-error) ok = true, want false")
	}
}

func TestWriteSuccess(t *testing.T) {
	op := spec.Default().Operation("AllocateEipAddress")
	// A typed struct, as the emulator passes them; OrderId beyond 2^53 must stay exact.
	type allocate struct {
		RequestId    string `json:"RequestId"`
		AllocationId string `json:"AllocationId"`
		EipAddress   string `json:"EipAddress"`
		OrderId      int64  `json:"OrderId"`
	}
	body := allocate{RequestId: "r<&>", AllocationId: "eip-1", EipAddress: "192.0.2.1", OrderId: 9007199254740993}
	tests := []struct {
		format   rpc.Format
		wantType string
		wantBody string
	}{
		{rpc.JSON, rpc.JSONContentType, `{"RequestId":"r<&>","AllocationId":"eip-1","EipAddress":"192.0.2.1","OrderId":9007199254740993}`},
		{rpc.XML, rpc.XMLContentType, `<?xml version="1.0" encoding="UTF-8"?><AllocateEipAddressResponse><AllocationId>eip-1</AllocationId><EipAddress>192.0.2.1</EipAddress><OrderId>9007199254740993</OrderId><RequestId>r&lt;&amp;&gt;</RequestId></AllocateEipAddressResponse>`},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			w := httptest.NewRecorder()
			if err := rpc.WriteSuccess(w, tt.format, op.XMLRoot(), op.SuccessSchema().Value, body); err != nil {
				t.Fatalf("WriteSuccess(%s) = %v", tt.format, err)
			}
			if w.Code != http.StatusOK {
				t.Errorf("WriteSuccess(%s) status %d, want 200", tt.format, w.Code)
			}
			if got := w.Header().Get("Content-Type"); got != tt.wantType {
				t.Errorf("WriteSuccess(%s) Content-Type %q, want %q", tt.format, got, tt.wantType)
			}
			if diff := cmp.Diff(tt.wantBody, w.Body.String()); diff != "" {
				t.Errorf("WriteSuccess(%s) body mismatch (-want +got):\n%s", tt.format, diff)
			}
			// Both formats decode to the same value, which the schema accepts.
			root, v, err := rpc.DecodeSuccess(tt.format, w.Body.Bytes(), op.SuccessSchema().Value)
			if err != nil {
				t.Fatalf("DecodeSuccess(%s, WriteSuccess body) = %v", tt.format, err)
			}
			if tt.format == rpc.XML && root != op.XMLRoot() {
				t.Errorf("DecodeSuccess(XML) root %q, want %q", root, op.XMLRoot())
			}
			if err := op.SuccessSchema().Value.VisitJSON(v); err != nil {
				t.Errorf("the %s body does not validate against the success schema: %v", tt.format, err)
			}
		})
	}

	t.Run("unencodable", func(t *testing.T) {
		for _, bad := range []any{func() {}, map[string]any{"bad name": 1}} {
			w := httptest.NewRecorder()
			err := rpc.WriteSuccess(w, rpc.XML, op.XMLRoot(), op.SuccessSchema().Value, bad)
			if err == nil {
				t.Errorf("WriteSuccess(XML, %T) = nil, want an error", bad)
			}
			if w.Body.Len() != 0 || len(w.Header()) != 0 {
				t.Errorf("WriteSuccess(XML, %T) failed but wrote headers %v, body %q; want nothing", bad, w.Header(), w.Body)
			}
		}
	})
}

func TestWriteError(t *testing.T) {
	e := rpc.ErrorBody{RequestId: "r-1", HostId: "host-1", Code: "Some.Code", Message: `a "quoted" <value> & more`}
	tests := []struct {
		format   rpc.Format
		wantType string
		wantBody string
	}{
		{rpc.JSON, rpc.JSONContentType, `{"RequestId":"r-1","HostId":"host-1","Code":"Some.Code","Message":"a \"quoted\" <value> & more","Recommend":""}`},
		{rpc.XML, rpc.XMLContentType, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>Some.Code</Code><HostId>host-1</HostId><Message>a "quoted" &lt;value&gt; &amp; more</Message><Recommend></Recommend><RequestId>r-1</RequestId></Error>`},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			w := httptest.NewRecorder()
			rpc.WriteError(w, tt.format, http.StatusNotFound, e)
			if w.Code != http.StatusNotFound {
				t.Errorf("WriteError(%s, 404) status %d, want 404", tt.format, w.Code)
			}
			if got := w.Header().Get("Content-Type"); got != tt.wantType {
				t.Errorf("WriteError(%s) Content-Type %q, want %q", tt.format, got, tt.wantType)
			}
			if diff := cmp.Diff(tt.wantBody, w.Body.String()); diff != "" {
				t.Errorf("WriteError(%s) body mismatch (-want +got):\n%s", tt.format, diff)
			}
			got, err := rpc.DecodeError(tt.format, w.Body.Bytes())
			if err != nil || got != e {
				t.Errorf("DecodeError(%s, WriteError body) = %+v, %v; want %+v, nil", tt.format, got, err, e)
			}
		})
	}
	if got := rpc.ErrorRoot(); got != spec.Default().OpenAPI().Components.Schemas["Error"].Value.XML.Name {
		t.Errorf("ErrorRoot() = %q, want the spec's Error xml.name", got)
	}
}

func TestDecodeError(t *testing.T) {
	full := rpc.ErrorBody{RequestId: "r", HostId: "h", Code: "C", Message: "m", Recommend: "x"}
	tests := []struct {
		name        string
		format      rpc.Format
		in          string
		want        rpc.ErrorBody
		wantErr     string // substring; "" for success
		wantPartial bool
	}{
		{name: "JSON", format: rpc.JSON, in: `{"RequestId":"r","HostId":"h","Code":"C","Message":"m","Recommend":"x","Extra":{"a":1}}`, want: full},
		{name: "XML", format: rpc.XML, in: `<?xml version="1.0"?><Error><RequestId>r</RequestId><HostId>h</HostId><Code>C</Code><Message>m</Message><Recommend>x</Recommend><Extra/></Error>`, want: full},
		{name: "unknown format is JSON", format: "yaml", in: `{"RequestId":"r","Code":"C","Message":"m"}`, want: rpc.ErrorBody{RequestId: "r", Code: "C", Message: "m"}},
		{name: "numeric Code", format: rpc.JSON, in: `{"RequestId":"r","Code":400,"Message":"m"}`, want: rpc.ErrorBody{RequestId: "r", Code: "400", Message: "m"}, wantErr: "Code is the number 400; want a string", wantPartial: true},
		{name: "numeric Code with exponent", format: rpc.JSON, in: `{"RequestId":"r","Code":4e2,"Message":"m"}`, want: rpc.ErrorBody{RequestId: "r", Code: "400", Message: "m"}, wantErr: "Code is the number 4e2", wantPartial: true},
		{name: "huge numeric Code", format: rpc.JSON, in: `{"RequestId":"r","Code":1e999,"Message":"m"}`, want: rpc.ErrorBody{RequestId: "r", Code: "1e999", Message: "m"}, wantErr: "Code is the number 1e999", wantPartial: true},
		{name: "boolean, null and object fields", format: rpc.JSON, in: `{"RequestId":true,"Code":null,"Message":{"a":1},"HostId":[1]}`, want: rpc.ErrorBody{RequestId: "true"}, wantErr: "RequestId is the boolean true; want a string; HostId is a JSON array; want a string; Code is null; want a string; Message is a JSON object; want a string", wantPartial: true},
		{name: "missing Code", format: rpc.JSON, in: `{"RequestId":"r","Message":"m"}`, want: rpc.ErrorBody{RequestId: "r", Message: "m"}, wantErr: "missing Code", wantPartial: true},
		{name: "empty object", format: rpc.JSON, in: `{}`, wantErr: "missing RequestId; missing Code; missing Message", wantPartial: true},
		{name: "missing Code in XML", format: rpc.XML, in: `<Error><RequestId>r</RequestId><Message>m</Message></Error>`, want: rpc.ErrorBody{RequestId: "r", Message: "m"}, wantErr: "missing Code", wantPartial: true},
		{name: "XML under another root", format: rpc.XML, in: `<Response><RequestId>r</RequestId><Code>C</Code><Message>m</Message></Response>`, want: rpc.ErrorBody{RequestId: "r", Code: "C", Message: "m"}, wantErr: "root element <Response>; want <Error>", wantPartial: true},
		{name: "JSON array", format: rpc.JSON, in: `[1,2]`, wantErr: "a JSON array; want an object"},
		{name: "JSON string", format: rpc.JSON, in: `"Code"`, wantErr: "a JSON string; want an object"},
		{name: "empty JSON", format: rpc.JSON, in: ``, wantErr: "empty body"},
		{name: "garbage JSON", format: rpc.JSON, in: `<html>502 Bad Gateway</html>`, wantErr: "not JSON"},
		{name: "truncated JSON", format: rpc.JSON, in: `{"RequestId":"r","Co`, wantErr: "truncated"},
		{name: "trailing data", format: rpc.JSON, in: `{"RequestId":"r","Code":"C","Message":"m"} {}`, wantErr: "data after the JSON value"},
		{name: "JSON nested 100000 deep", format: rpc.JSON, in: strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100000), wantErr: "not JSON"},
		{name: "XML nested 100000 deep", format: rpc.XML, in: strings.Repeat(`<a>`, 100000), wantErr: "nested 65 deep"},
		{name: "garbage XML", format: rpc.XML, in: `{"Code":"C"}`, wantErr: "before the root element"},
		{name: "truncated XML", format: rpc.XML, in: `<Error><Code>C</Co`, wantErr: "input ends inside"},
		{name: "elements inside Code", format: rpc.XML, in: `<Error><Code><x/></Code></Error>`, wantErr: "want text only"},
		{name: "huge", format: rpc.JSON, in: `{"Message":"` + strings.Repeat("x", rpc.DefaultMaxBody) + `"}`, wantErr: "more than the 4194304 allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rpc.DecodeError(tt.format, []byte(tt.in))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeError(%s, %s) body mismatch (-want +got):\n%s", tt.format, clip(tt.in), diff)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("DecodeError(%s, %s) = %v, want no error", tt.format, clip(tt.in), err)
				}
				return
			}
			var be *rpc.BodyError
			if !errors.As(err, &be) {
				t.Fatalf("DecodeError(%s, %s) error %v (%T), want a *rpc.BodyError containing %q", tt.format, clip(tt.in), err, err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) || be.Partial != tt.wantPartial {
				t.Errorf("DecodeError(%s, %s) = %v (partial %v)\nwant an error containing %q (partial %v)", tt.format, clip(tt.in), err, be.Partial, tt.wantErr, tt.wantPartial)
			}
		})
	}
}

func TestDecodeSuccess(t *testing.T) {
	op := spec.Default().Operation("DescribeEipAddresses")
	s := op.SuccessSchema().Value
	want := map[string]any{"RequestId": "r", "TotalCount": 1.0, "PageNumber": 1.0, "PageSize": 10.0,
		"EipAddresses": map[string]any{"EipAddress": []any{map[string]any{"AllocationId": "eip-1"}}}}
	jsonBody, _ := json.Marshal(want)
	xmlBody := `<DescribeEipAddressesResponse><RequestId>r</RequestId><TotalCount>1</TotalCount><PageNumber>1</PageNumber><PageSize>10</PageSize><EipAddresses><EipAddress><AllocationId>eip-1</AllocationId></EipAddress></EipAddresses></DescribeEipAddressesResponse>`
	for _, tc := range []struct {
		format   rpc.Format
		body     string
		wantRoot string
	}{{rpc.JSON, string(jsonBody), ""}, {rpc.XML, xmlBody, op.XMLRoot()}} {
		root, got, err := rpc.DecodeSuccess(tc.format, []byte(tc.body), s)
		if err != nil {
			t.Fatalf("DecodeSuccess(%s) = %v", tc.format, err)
		}
		if root != tc.wantRoot {
			t.Errorf("DecodeSuccess(%s) root %q, want %q", tc.format, root, tc.wantRoot)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("DecodeSuccess(%s) mismatch (-want +got):\n%s", tc.format, diff)
		}
	}
	for _, bad := range []struct {
		format rpc.Format
		body   string
	}{{rpc.JSON, `{"RequestId":`}, {rpc.JSON, `{} []`}, {rpc.XML, `<R><TotalCount>x</TotalCount></R>`}, {rpc.XML, strings.Repeat(" ", rpc.DefaultMaxBody+1)}} {
		_, _, err := rpc.DecodeSuccess(bad.format, []byte(bad.body), s)
		var be *rpc.BodyError
		if !errors.As(err, &be) {
			t.Errorf("DecodeSuccess(%s, %s) = %v, want a *rpc.BodyError", bad.format, clip(bad.body), err)
		}
	}
}

// TestDecodeSuccessHostile pins what DecodeSuccess does with hostile bodies in both formats:
// an error for what it cannot decode (never a panic), within its size limit, and, for JSON,
// exactly what encoding/json (and so the Go SDK) reads.
func TestDecodeSuccessHostile(t *testing.T) {
	s := spec.Default().Operation("DescribeEipAddresses").SuccessSchema().Value
	nested := func(open, close string, n int) string {
		return strings.Repeat(open, n) + strings.Repeat(close, n)
	}
	tests := []struct {
		name    string
		format  rpc.Format
		body    string
		want    any    // the value, when it decodes
		wantErr string // a part of the error; "" for success
	}{
		{name: "garbage JSON", format: rpc.JSON, body: "<html>502</html>", wantErr: "not JSON"},
		{name: "garbage XML", format: rpc.XML, body: `{"RequestId":"r"}`, wantErr: "before the root element"},
		{name: "truncated JSON", format: rpc.JSON, body: `{"RequestId":"r","Tot`, wantErr: "truncated"},
		{name: "truncated XML", format: rpc.XML, body: `<R><RequestId>r</Req`, wantErr: "input ends inside"},
		{name: "empty JSON", format: rpc.JSON, body: "", wantErr: "empty body"},
		{name: "empty XML", format: rpc.XML, body: "", wantErr: "rpcxml"},
		{name: "JSON one byte over the limit", format: rpc.JSON, body: `"` + strings.Repeat("x", rpc.DefaultMaxBody-1) + `"`, wantErr: "4194305 bytes, more than the 4194304 allowed"},
		{name: "XML one byte over the limit", format: rpc.XML, body: "<R>" + strings.Repeat("x", rpc.DefaultMaxBody-6) + "</R>", wantErr: "more than the 4194304 allowed"},
		{name: "JSON at the limit", format: rpc.JSON, body: `"` + strings.Repeat("x", rpc.DefaultMaxBody-2) + `"`, want: strings.Repeat("x", rpc.DefaultMaxBody-2)},
		{name: "JSON nested 10000 deep", format: rpc.JSON, body: nested("[", "]", 10000), want: nil /* checked below */},
		{name: "JSON nested 10001 deep", format: rpc.JSON, body: nested("[", "]", 10001), wantErr: "exceeded max depth"},
		{name: "XML nested 64 deep", format: rpc.XML, body: nested("<a>", "</a>", 64), want: nil /* 63 levels of {"a": ...} */},
		{name: "XML nested 65 deep", format: rpc.XML, body: nested("<a>", "</a>", 65), wantErr: "nested 65 deep"},
		{name: "invalid UTF-8 in JSON is U+FFFD, as encoding/json reads it", format: rpc.JSON, body: "{\"RequestId\":\"a\xffb\"}", want: map[string]any{"RequestId": "a\ufffdb"}},
		{name: "invalid UTF-8 in XML", format: rpc.XML, body: "<R><RequestId>a\xffb</RequestId></R>", wantErr: "invalid UTF-8 at byte offset 15"},
		{name: "duplicate JSON keys: the last wins, as encoding/json reads them", format: rpc.JSON, body: `{"RequestId":"a","RequestId":"b"}`, want: map[string]any{"RequestId": "b"}},
		{name: "duplicate XML elements of a single value", format: rpc.XML, body: `<R><RequestId>a</RequestId><RequestId>b</RequestId></R>`, wantErr: "RequestId"},
		{name: "numeric RequestId in JSON decodes; the schema rejects it", format: rpc.JSON, body: `{"RequestId":5}`, want: map[string]any{"RequestId": 5.0}},
		{name: "text where XML wants a number", format: rpc.XML, body: `<R><TotalCount>five</TotalCount></R>`, wantErr: "TotalCount"},
		{name: "JSON trailing data", format: rpc.JSON, body: `{} {}`, wantErr: "data after the JSON value"},
		{name: "XML DOCTYPE", format: rpc.XML, body: `<!DOCTYPE R [<!ENTITY x "y">]><R/>`, wantErr: "DOCTYPE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, got, err := rpc.DecodeSuccess(tt.format, []byte(tt.body), s)
			if tt.wantErr != "" {
				var be *rpc.BodyError
				if !errors.As(err, &be) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("DecodeSuccess(%s, %s) = %v; want a *rpc.BodyError containing %q", tt.format, clip(tt.body), err, tt.wantErr)
				}
				if root != "" || got != nil {
					t.Errorf("DecodeSuccess(%s, %s) = %q, %v with an error; want neither", tt.format, clip(tt.body), root, clip(fmt.Sprint(got)))
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeSuccess(%s, %s) = %v, want success", tt.format, clip(tt.body), err)
			}
			if tt.want == nil {
				return // too deep for a readable want; decoding without error is the point
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeSuccess(%s, %s) mismatch (-want +got):\n%s", tt.format, clip(tt.body), clip(diff))
			}
		})
	}
}

// FuzzDecodeSuccess checks DecodeSuccess on any body, in either format, with any operation's
// response schema: it never panics, fails only with a *BodyError and nothing else returned,
// decodes JSON exactly as encoding/json does (error for error, value for value), gives XML a
// root element and a value that survives a JSON round trip, and leaves a value VisitJSON can
// judge without panicking.
//
//	go test -run '^$' -fuzz '^FuzzDecodeSuccess$' -fuzztime 30s -parallel 1 ./internal/rpc
func FuzzDecodeSuccess(f *testing.F) {
	ops := spec.Default().Operations
	seeds := []string{
		"", "null", "0", `""`, "[]", "{}", "<R/>", "<?xml version=\"1.0\"?>",
		`{"RequestId":"r","TotalCount":1,"EipAddresses":{"EipAddress":[{"AllocationId":"a"}]}}`,
		`{"RequestId":"a","RequestId":"b","TotalCount":1e400}`,
		"{\"RequestId\":\"\xff\xfe\",\"\xc3\":1}",
		`{"RequestId":"r"} trailing`,
		`{"RequestId":"r","Tot`,
		strings.Repeat("[", 100) + strings.Repeat("]", 100),
		`<DescribeEipAddressesResponse><RequestId>r</RequestId><TotalCount>2</TotalCount><EipAddresses><EipAddress><AllocationId>a</AllocationId></EipAddress><EipAddress/></EipAddresses></DescribeEipAddressesResponse>`,
		`<R><RequestId>a</RequestId><RequestId>b</RequestId></R>`,
		`<R><TotalCount>1.5</TotalCount><PageSize>-0</PageSize></R>`,
		"<R><RequestId>\xff</RequestId></R>",
		`<R><RequestId>r</Req`,
		strings.Repeat("<a>", 65),
		`<!DOCTYPE R><R/>`,
		`<?xml version="1.0" encoding="ISO-8859-1"?><R/>`,
	}
	for _, op := range ops {
		for _, ex := range op.Examples {
			if data, err := json.Marshal(ex.Value); err == nil {
				seeds = append(seeds, string(data))
			}
		}
	}
	for i, seed := range seeds {
		f.Add([]byte(seed), false, uint8(i))
		f.Add([]byte(seed), true, uint8(i))
	}
	f.Fuzz(func(t *testing.T, body []byte, asXML bool, which uint8) {
		op := ops[int(which)%len(ops)]
		schema := op.SuccessSchema().Value
		format := rpc.JSON
		if asXML {
			format = rpc.XML
		}
		root, got, err := rpc.DecodeSuccess(format, body, schema)
		if err != nil {
			var be *rpc.BodyError
			if !errors.As(err, &be) || len(be.Problems) == 0 || be.Format != format {
				t.Fatalf("DecodeSuccess(%s, %q, %s) error %v (%T), want a *rpc.BodyError of format %s with problems", format, body, op.Action, err, err, format)
			}
			if root != "" || got != nil {
				t.Fatalf("DecodeSuccess(%s, %q, %s) = %q, %v with an error; want neither", format, body, op.Action, root, got)
			}
		} else if len(body) > rpc.DefaultMaxBody {
			t.Fatalf("DecodeSuccess(%s, %d bytes) succeeded over the %d-byte limit", format, len(body), rpc.DefaultMaxBody)
		}
		if format == rpc.JSON {
			var want any
			werr := json.Unmarshal(body, &want)
			if (err == nil) != (werr == nil) {
				t.Fatalf("DecodeSuccess(JSON, %q) error %v; encoding/json says %v", body, err, werr)
			}
			// reflect.DeepEqual, not cmp: cmp's slice diff is exponential in the nesting depth.
			if err == nil && !reflect.DeepEqual(want, got) {
				t.Fatalf("DecodeSuccess(JSON, %q) = %v, differs from encoding/json's %v", body, got, want)
			}
		}
		if err != nil {
			return
		}
		if format == rpc.XML {
			if root == "" {
				t.Fatalf("DecodeSuccess(XML, %q) succeeded with no root element", body)
			}
			data, err := json.Marshal(got)
			if err != nil {
				t.Fatalf("DecodeSuccess(XML, %q) value %v does not marshal as JSON: %v", body, got, err)
			}
			var back any
			if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(back, got) {
				t.Fatalf("DecodeSuccess(XML, %q) = %v, changes through JSON: %v, %v", body, got, back, err)
			}
		}
		_ = schema.VisitJSON(got) // must not panic; whether the value is valid is another matter
	})
}

// FuzzDecodeError checks that DecodeError never panics on any body in either format, that its
// error is always a *BodyError, that what it reads without complaint WriteError writes back
// so that it reads the same again, and, for JSON, that it reads exactly what encoding/json
// reads (duplicate keys: the last wins; invalid UTF-8: U+FFFD), numbers and booleans as their
// text, and reports every field that is not a string and every required field that is missing.
//
//	go test -run '^$' -fuzz '^FuzzDecodeError$' -fuzztime 30s -parallel 1 ./internal/rpc
func FuzzDecodeError(f *testing.F) {
	for _, seed := range []string{
		`{"RequestId":"r","HostId":"h","Code":"C","Message":"m","Recommend":"x"}`,
		`{"RequestId":"r","Code":400,"Message":"m"}`,
		`{"RequestId":"r","Code":-4.5e-3,"Message":"m"}`,
		`{"RequestId":"r","Code":1e999,"Message":"m"}`,
		`{"RequestId":"r","Message":"m"}`,
		`{"RequestId":"r","Code":"A","Code":"B","Message":"m"}`,
		`{"RequestId":"r","Code":"\u0041","code":"lower","Message":"m"}`,
		"{\"RequestId\":\"\xff\",\"Code\":\"C\",\"Message\":\"m\"}",
		`{"Code":[{"a":null}],"Message":true}`,
		`{"RequestId":"r","Code":"C","Message":"m"} {}`,
		`{"RequestId":"r","Co`,
		`<Error><RequestId>r</RequestId><Code>C</Code><Message>m &amp; &#xD;</Message></Error>`,
		`<Error><RequestId>r</RequestId><Code>A</Code><Code>B</Code><Message>m</Message></Error>`,
		`<Error><Code><x/></Code></Error>`,
		"<Error><Code>\xff</Code></Error>",
		strings.Repeat("[", 200),
		strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100),
		strings.Repeat("<a>", 200),
		"\xff\xfe",
		"",
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, asXML bool) {
		format := rpc.JSON
		if asXML {
			format = rpc.XML
		}
		got, err := rpc.DecodeError(format, body)
		var be *rpc.BodyError
		if err != nil {
			if !errors.As(err, &be) || len(be.Problems) == 0 {
				t.Fatalf("DecodeError(%s, %q) error %v (%T), want a *rpc.BodyError with problems", format, body, err, err)
			}
			if !be.Partial && got != (rpc.ErrorBody{}) {
				t.Fatalf("DecodeError(%s, %q) = %+v with a non-partial error %v; want an empty body", format, body, got, err)
			}
		}
		if !asXML {
			checkDecodeErrorJSON(t, body, got, be)
		}
		if err != nil {
			return
		}
		w := httptest.NewRecorder()
		rpc.WriteError(w, format, http.StatusBadRequest, got)
		again, err := rpc.DecodeError(format, w.Body.Bytes())
		if err != nil || again != got {
			t.Fatalf("DecodeError(%s, WriteError(DecodeError(%q))) = %+v, %v; want %+v, nil\nwritten: %s", format, body, again, err, got, w.Body)
		}
	})
}

// checkDecodeErrorJSON checks DecodeError's reading of a JSON body against encoding/json's:
// be is DecodeError's error, nil when it had none.
func checkDecodeErrorJSON(t *testing.T, body []byte, got rpc.ErrorBody, be *rpc.BodyError) {
	t.Helper()
	if !json.Valid(body) {
		if be == nil || be.Partial {
			t.Fatalf("DecodeError(JSON, %q) = %+v, %v; encoding/json says it is not JSON, want a non-partial error", body, got, be)
		}
		return
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("test bug: json.Valid(%q) but Decode = %v", body, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		if be == nil || be.Partial {
			t.Fatalf("DecodeError(JSON, %q) = %+v, %v; the body is a JSON %T, want a non-partial error", body, got, be, v)
		}
		return
	}
	required := map[string]bool{}
	for _, name := range spec.Default().OpenAPI().Components.Schemas["Error"].Value.Required {
		required[name] = true
	}
	var problems []string
	fields := map[string]string{"RequestId": got.RequestId, "HostId": got.HostId, "Code": got.Code, "Message": got.Message, "Recommend": got.Recommend}
	for _, name := range []string{"RequestId", "HostId", "Code", "Message", "Recommend"} {
		raw, present := m[name]
		want, problem := "", ""
		switch raw := raw.(type) {
		case nil:
			if present {
				problem = name + " is null"
			} else if required[name] {
				problem = "missing " + name
			}
		case string:
			want = raw
		case bool:
			want, problem = strconv.FormatBool(raw), name+" is the boolean"
		case json.Number:
			problem = name + " is the number"
			if !sameNumber(string(raw), fields[name]) {
				t.Errorf("DecodeError(JSON, %q): %s = %q, want the number %s as decimal text", body, name, fields[name], raw)
			}
			want = fields[name]
		default:
			problem = name + " is a JSON"
		}
		if fields[name] != want {
			t.Errorf("DecodeError(JSON, %q): %s = %q, want %q (what encoding/json reads)", body, name, fields[name], want)
		}
		if problem != "" {
			problems = append(problems, problem)
		}
	}
	if len(problems) == 0 {
		if be != nil {
			t.Fatalf("DecodeError(JSON, %q) = %v; want no error for an object of strings with every required field", body, be)
		}
		return
	}
	if be == nil || !be.Partial {
		t.Fatalf("DecodeError(JSON, %q) = %+v, %v; want a partial error naming %q", body, got, be, problems)
	}
	for _, p := range problems {
		if !strings.Contains(be.Error(), p) {
			t.Errorf("DecodeError(JSON, %q) = %v; want it to say %q", body, be, p)
		}
	}
}

// sameNumber reports whether text is the JSON number literal written as decimal text: equal as
// float64, or the literal itself where it does not fit.
func sameNumber(literal, text string) bool {
	if text == literal {
		return true
	}
	a, errA := strconv.ParseFloat(literal, 64)
	b, errB := strconv.ParseFloat(text, 64)
	return errA == nil && errB == nil && a == b && !strings.ContainsAny(text, "eE")
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

package rpc_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eipconform/eipconform/internal/rpc"
)

func TestReadParams(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		target      string
		contentType string
		body        string
		want        url.Values
	}{
		{name: "query only", method: "GET", target: "/?Action=A&Name=a%20b+c&Empty=&Flag", want: url.Values{"Action": {"A"}, "Name": {"a b c"}, "Empty": {""}, "Flag": {""}}},
		{name: "form only", method: "POST", target: "/", contentType: rpc.FormContentType, body: "Action=A&Name=%E5%90%8D", want: url.Values{"Action": {"A"}, "Name": {"名"}}},
		{name: "form with charset", method: "POST", target: "/", contentType: "application/x-www-form-urlencoded; charset=UTF-8", body: "A=1", want: url.Values{"A": {"1"}}},
		{name: "query and form, the body wins", method: "POST", target: "/?Action=A&Name=query&Q=q", contentType: rpc.FormContentType, body: "Name=form&F=f", want: url.Values{"Action": {"A"}, "Name": {"form"}, "Q": {"q"}, "F": {"f"}}},
		{name: "repeated names keep their order", method: "GET", target: "/?X=1&X=2", want: url.Values{"X": {"1", "2"}}},
		{name: "semicolons are not separators", method: "GET", target: "/?A=1;B=2", want: url.Values{"A": {"1;B=2"}}},
		{name: "empty pairs skipped", method: "GET", target: "/?&&A=1&", want: url.Values{"A": {"1"}}},
		{name: "a GET's body is ignored", method: "GET", target: "/?A=1", contentType: rpc.FormContentType, body: "B=2", want: url.Values{"A": {"1"}}},
		{name: "another content type's body is ignored", method: "POST", target: "/?A=1", contentType: "application/json", body: `{"B":"2"}`, want: url.Values{"A": {"1"}}},
		{name: "a body without content type is ignored", method: "POST", target: "/?A=1", body: "B=2", want: url.Values{"A": {"1"}}},
		{name: "PUT body is ignored", method: "PUT", target: "/?A=1", contentType: rpc.FormContentType, body: "B=2", want: url.Values{"A": {"1"}}},
		{name: "nothing", method: "GET", target: "/", want: url.Values{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			got, err := rpc.ReadParams(r, 0)
			if err != nil {
				t.Fatalf("ReadParams(%s %s, %q) = %v, want success", tt.method, tt.target, tt.body, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ReadParams(%s %s, %q) mismatch (-want +got):\n%s", tt.method, tt.target, tt.body, diff)
			}
		})
	}
}

func TestReadParamsErrors(t *testing.T) {
	tests := []struct {
		name       string
		target     string
		body       io.Reader // a POST form body when not nil
		maxBody    int64
		wantStatus int
		wantWhere  string
		wantParam  string
		wantIs     error
	}{
		{name: "bad escape in a query value", target: "/?Action=A&Name=%zz", wantStatus: 400, wantWhere: "query", wantParam: "Name"},
		{name: "truncated escape in a query value", target: "/?Name=a%2", wantStatus: 400, wantWhere: "query", wantParam: "Name"},
		{name: "bad escape in a query name", target: "/?Na%GGme=x", wantStatus: 400, wantWhere: "query", wantParam: "Na%GGme"},
		{name: "bad escape in a body value", target: "/", body: strings.NewReader("Action=A&Description=100%"), wantStatus: 400, wantWhere: "body", wantParam: "Description"},
		{name: "body over the limit", target: "/", body: strings.NewReader("A=" + strings.Repeat("x", 100)), maxBody: 64, wantStatus: 413, wantWhere: "body", wantIs: rpc.ErrTooLarge},
		{name: "body over the default limit", target: "/", body: io.LimitReader(infinite{}, rpc.DefaultMaxBody+10), wantStatus: 413, wantWhere: "body", wantIs: rpc.ErrTooLarge},
		{name: "endless body", target: "/", body: infinite{}, maxBody: 1 << 10, wantStatus: 413, wantWhere: "body", wantIs: rpc.ErrTooLarge},
		{name: "body read error", target: "/", body: failing{}, wantStatus: 400, wantWhere: "body", wantIs: errFailing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := http.MethodGet
			if tt.body != nil {
				method = http.MethodPost
			}
			r := httptest.NewRequest(method, "/", tt.body)
			r.URL.RawQuery = strings.TrimPrefix(tt.target, "/?")
			if tt.target == "/" {
				r.URL.RawQuery = ""
			}
			r.Header.Set("Content-Type", rpc.FormContentType)
			got, err := rpc.ReadParams(r, tt.maxBody)
			if err == nil {
				t.Fatalf("ReadParams(%s %s) = %v, nil; want an error", method, tt.target, got)
			}
			var pe *rpc.ParamsError
			if !errors.As(err, &pe) {
				t.Fatalf("ReadParams(%s %s) error %v is a %T, want *rpc.ParamsError", method, tt.target, err, err)
			}
			if pe.Status != tt.wantStatus || pe.Where != tt.wantWhere || pe.Param != tt.wantParam {
				t.Errorf("ReadParams(%s %s) = %v: status %d, where %q, param %q; want %d, %q, %q", method, tt.target, err, pe.Status, pe.Where, pe.Param, tt.wantStatus, tt.wantWhere, tt.wantParam)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("ReadParams(%s %s) = %v, want an error wrapping %v", method, tt.target, err, tt.wantIs)
			}
			if tt.wantParam != "" && !strings.Contains(err.Error(), tt.wantParam) {
				t.Errorf("ReadParams(%s %s) error %q does not name the parameter %q", method, tt.target, err, tt.wantParam)
			}
		})
	}
}

// infinite is an endless body of 'x'.
type infinite struct{}

func (infinite) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

var errFailing = errors.New("connection reset")

// failing is a body whose read fails.
type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errFailing }

// FuzzReadParams checks ReadParams on any query, body, method, Content-Type and limit against
// net/url's parser: the same parameters, in the same order, and an error exactly where net/url
// finds one (a ';' is part of a value for ReadParams, a separator net/url refuses, so the
// reference reads it as %3B). The body counts only for a POST with a form Content-Type, and
// replaces the query's names; over the limit it is a 413 wrapping ErrTooLarge. Errors are
// always *ParamsError, 400 naming the malformed parameter or 413. What it reads,
// EncodeForm writes so that it reads the same again.
//
//	go test -run '^$' -fuzz '^FuzzReadParams$' -fuzztime 30s -parallel 1 ./internal/rpc
func FuzzReadParams(f *testing.F) {
	seeds := []struct {
		query, body, contentType string
		method                   uint8 // 0 GET, 1 POST, 2 PUT
		limit                    uint16
	}{
		{"Action=A&Name=a%20b+c&Empty=&Flag", "", "", 0, 0},
		{"", "Action=A&Name=%E5%90%8D", rpc.FormContentType, 1, 0},
		{"Action=A&Name=query", "Name=form&F=f", "application/x-www-form-urlencoded; charset=UTF-8", 1, 0},
		{"X=1&X=2&X=", "X=3", "APPLICATION/X-WWW-FORM-URLENCODED", 1, 0},
		{"A=1;B=2", "C=3;D", rpc.FormContentType, 1, 0},
		{"&&A=1&&", "&", rpc.FormContentType, 1, 0},
		{"=v&==&%3D=%26", "", "", 0, 0},
		{"=%", "", "", 0, 87}, // found by the fuzzer: a malformed value of the parameter named ""
		{"A=1&%zz=v&B=%", "", "", 0, 0},
		{"Name=%zz", "", "", 0, 0},
		{"Name=a%2", "", "", 0, 0},
		{"Na%GGme=x", "", "", 0, 0},
		{"A=1", "Description=100%", rpc.FormContentType, 1, 0},
		{"A=%FF%FE%00", "B=%C3", rpc.FormContentType, 1, 0},
		{"A=1", "A=" + strings.Repeat("x", 100), rpc.FormContentType, 1, 64},
		{"A=1", "B=2", rpc.FormContentType, 0, 0},
		{"A=1", "B=2", "application/json", 1, 0},
		{"A=1", "B=2", "application/x-www-form-urlencoded;", 1, 0},
		{"A=1", "B=2", "multipart/form-data; boundary=x", 1, 0},
		{"A=1", "B=2", rpc.FormContentType, 2, 0},
	}
	for _, s := range seeds {
		f.Add(s.query, []byte(s.body), s.contentType, s.method, s.limit)
	}
	f.Fuzz(func(t *testing.T, query string, body []byte, contentType string, method uint8, limit uint16) {
		m := []string{http.MethodGet, http.MethodPost, http.MethodPut}[int(method)%3]
		r := &http.Request{
			Method: m, URL: &url.URL{Path: "/", RawQuery: query}, Header: http.Header{},
			Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
		}
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		maxBody := int64(limit)
		got, err := rpc.ReadParams(r, maxBody)
		if maxBody == 0 {
			maxBody = rpc.DefaultMaxBody
		}
		what := fmt.Sprintf("ReadParams(%s ?%q, body %q, Content-Type %q, limit %d)", m, query, body, contentType, limit)

		var pe *rpc.ParamsError
		if err != nil && (!errors.As(err, &pe) || (pe.Where != "query" && pe.Where != "body")) {
			t.Fatalf("%s error %v (%T), want a *rpc.ParamsError from the query or the body", what, err, err)
		}
		wantQuery, ok, qerr := referenceParams(query)
		if !ok {
			return // more parameters than net/url reads
		}
		if qerr != nil {
			if pe == nil || pe.Where != "query" || pe.Status != http.StatusBadRequest {
				t.Fatalf("%s = %v, %v; net/url says %v, want a 400 about the query", what, got, err, qerr)
			}
			if name, n := firstMalformed(query); pe.Param != name && n <= rpc.MaxParams {
				t.Fatalf("%s = %v; net/url says %v, want the error to name parameter %q (the first malformed one)", what, err, qerr, name)
			}
			return
		}
		want := wantQuery
		mediaType, _, mtErr := mime.ParseMediaType(contentType)
		if m == http.MethodPost && mtErr == nil && mediaType == rpc.FormContentType {
			if int64(len(body)) > maxBody {
				if pe == nil || pe.Where != "body" || pe.Status != http.StatusRequestEntityTooLarge || !errors.Is(err, rpc.ErrTooLarge) {
					t.Fatalf("%s = %v, %v; the body is %d bytes, want a 413 wrapping ErrTooLarge", what, got, err, len(body))
				}
				return
			}
			wantBody, ok, berr := referenceParams(string(body))
			if !ok {
				return
			}
			if berr != nil {
				if pe == nil || pe.Where != "body" || pe.Status != http.StatusBadRequest {
					t.Fatalf("%s = %v, %v; net/url says %v, want a 400 about the body", what, got, err, berr)
				}
				_, inQuery := firstMalformed(query)
				if name, n := firstMalformed(string(body)); pe.Param != name && inQuery+n <= rpc.MaxParams {
					t.Fatalf("%s = %v; net/url says %v, want the error to name parameter %q (the first malformed one)", what, err, berr, name)
				}
				return
			}
			for k, v := range wantBody {
				want[k] = v
			}
		}
		if err != nil {
			t.Fatalf("%s = %v; net/url reads %v", what, err, want)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%s differs from net/url (-net/url +ReadParams):\n%s", what, diff)
		}
		again, err := rpc.ReadParams(&http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/", RawQuery: rpc.EncodeForm(got)}}, 0)
		if err != nil || !cmp.Equal(got, again) {
			t.Fatalf("%s: reading EncodeForm(%v) again = %v, %v; want the same parameters", what, got, again, err)
		}
	})
}

// referenceParams parses s with url.ParseQuery, a ';' read as part of a value; ok is false when
// s has more parameters than net/url reads at all.
func referenceParams(s string) (url.Values, bool, error) {
	if strings.Count(s, "&") >= 10000 {
		return nil, false, nil
	}
	v, err := url.ParseQuery(strings.ReplaceAll(s, ";", "%3B"))
	return v, true, err
}

// firstMalformed returns the parameter a ParamsError must name for query: the first pair
// whose name or value does not unescape (its name as sent when the name is malformed, else
// decoded, maybe ""), and how many pairs come up to it (past MaxParams, the count is the
// error).
func firstMalformed(query string) (name string, n int) {
	for _, pair := range strings.Split(query, "&") {
		if pair == "" {
			continue
		}
		n++
		rawName, rawValue, _ := strings.Cut(pair, "=")
		decoded, err := url.QueryUnescape(rawName)
		if err != nil {
			return rawName, n
		}
		if _, err := url.QueryUnescape(rawValue); err != nil {
			return decoded, n
		}
	}
	return "", n
}

// TestReadParamsCapsTheParameterCount: MaxParams parameters are read, one more (counted over
// query and body together) is a 400 ParamsError that says so.
func TestReadParamsCapsTheParameterCount(t *testing.T) {
	many := func(n int, prefix string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf("%s%d=v", prefix, i)
		}
		return strings.Join(parts, "&")
	}
	for _, tc := range []struct {
		name        string
		query, body string
		wantErr     bool
	}{
		{"MaxParams in the query", many(rpc.MaxParams, "q"), "", false},
		{"MaxParams split over query and body", many(rpc.MaxParams/2, "q"), many(rpc.MaxParams-rpc.MaxParams/2, "b"), false},
		{"one more in the query", many(rpc.MaxParams+1, "q"), "", true},
		{"one more over query and body", many(rpc.MaxParams/2, "q"), many(rpc.MaxParams-rpc.MaxParams/2+1, "b"), true},
		{"empty pairs do not count", many(rpc.MaxParams, "q") + strings.Repeat("&", 5000), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/?"+tc.query, strings.NewReader(tc.body))
			r.Header.Set("Content-Type", rpc.FormContentType)
			params, err := rpc.ReadParams(r, 0)
			var pe *rpc.ParamsError
			switch {
			case tc.wantErr && (!errors.As(err, &pe) || pe.Status != http.StatusBadRequest || !strings.Contains(err.Error(), "parameters")):
				t.Errorf("ReadParams = %d params, %v; want a 400 ParamsError about the parameter count", len(params), err)
			case !tc.wantErr && (err != nil || len(params) != rpc.MaxParams):
				t.Errorf("ReadParams = %d params, %v; want %d and no error", len(params), err, rpc.MaxParams)
			}
		})
	}
}

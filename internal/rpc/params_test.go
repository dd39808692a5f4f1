package rpc_test

import (
	"errors"
	"io"
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

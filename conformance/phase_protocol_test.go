package conformance_test

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/eipconform/eipconform/conformance"
	"github.com/eipconform/eipconform/emulator"
	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
)

// TestProtocolAgainstTheEmulator: the protocol phase finds nothing wrong with the reference
// endpoint, with or without authentication, and skips the authentication checks (saying so)
// only without.
func TestProtocolAgainstTheEmulator(t *testing.T) {
	for _, noAuth := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoAuth=%t", noAuth), func(t *testing.T) {
			t.Parallel()
			rep := checkPhase(t, embedded(t, emulator.Options{NoAuth: noAuth}), conformance.Options{Only: []string{conformance.PhaseProtocol}})
			for _, v := range rep.Errors() {
				t.Errorf("%s", v)
			}
			for _, l := range rep.Leftovers {
				t.Errorf("leftover %s: %s", l.ID, l.Reason)
			}
			skipped := slices.ContainsFunc(rep.Skipped, func(s conformance.Skip) bool {
				return s.Phase == conformance.PhaseProtocol && strings.Contains(s.Reason, "NoAuth")
			})
			if skipped != noAuth {
				t.Errorf("authentication checks skipped = %t, want %t (skips: %+v)", skipped, noAuth, rep.Skipped)
			}
			if rep.Cases < 30 {
				t.Errorf("%d requests sent, want at least 30", rep.Cases)
			}
		})
	}
}

// TestProtocolCatchesBrokenEndpoints: each broken endpoint is caught by the protocol check
// that guards what it breaks.
func TestProtocolCatchesBrokenEndpoints(t *testing.T) {
	for _, row := range []struct {
		name  string
		m     mangled
		wants []found
	}{
		{"AnySignatureAccepted", mangled{in: func(method string, p url.Values) {
			if p.Get(rpc.ParamSignature) == "forged" {
				signAgain(method, p)
			}
		}}, []found{{"DescribeEipAddresses", conformance.CheckSignature}}},
		{"NonceReuseAccepted", acceptReusedNonces(), []found{{"DescribeEipAddresses", conformance.CheckNonce}}},
		{"DescribeXMLFails", mangled{out: describeXML500}, []found{{"DescribeEipAddresses", conformance.CheckParity}}},
		{"XMLWithoutRequestId", mangled{out: dropXMLRequestID}, []found{
			{"DescribeEipAddresses", conformance.CheckRequestID},
			{"AllocateEipAddress", conformance.CheckParity},
		}},
	} {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			target := embedded(t, emulator.Options{})
			target.Handler = row.m.wrap(target.Handler)
			rep := checkPhase(t, target, conformance.Options{Only: []string{conformance.PhaseProtocol}})
			t.Logf("violations by operation/phase/check: %v", countViolations(rep))
			for _, w := range row.wants {
				if !w.in(rep, conformance.PhaseProtocol) {
					t.Errorf("no violation of %s/%s/%s; got:%s", w.op, conformance.PhaseProtocol, w.check, dumpViolations(rep))
				}
			}
		})
	}
}

// checkPhase runs conformance.Check and fails the test on an error.
func checkPhase(t *testing.T, target conformance.Target, opts conformance.Options) *conformance.Report {
	t.Helper()
	rep, err := conformance.Check(t.Context(), target, opts)
	if err != nil {
		t.Fatalf("Check(%+v) = %v", opts, err)
	}
	return rep
}

// found is a violation a broken endpoint must cause.
type found struct{ op, check string }

// in reports whether rep has an error-severity violation of the check in the phase.
func (f found) in(rep *conformance.Report, phase string) bool {
	return slices.ContainsFunc(rep.Errors(), func(v conformance.Violation) bool {
		return v.Operation == f.op && v.Phase == phase && v.Check == f.check
	})
}

func countViolations(rep *conformance.Report) map[string]int {
	out := map[string]int{}
	for _, v := range rep.Violations {
		out[v.Operation+"/"+v.Phase+"/"+v.Check+" ("+string(v.Severity)+")"]++
	}
	return out
}

func dumpViolations(rep *conformance.Report) string {
	var b strings.Builder
	for _, v := range rep.Violations {
		fmt.Fprintf(&b, "\n[%s] %s", v.Severity, v)
	}
	return b.String()
}

// mangled is a deliberately broken endpoint: the emulator behind a wrapper whose in may
// rewrite a request's parameters (method is the request's) and whose out may rewrite the
// answer.
type mangled struct {
	in  func(method string, p url.Values)
	out func(p url.Values, status *int, header http.Header, body *[]byte)
}

func (m mangled) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := rpc.ReadParams(r, 0)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if m.in != nil {
			m.in(r.Method, p)
		}
		var req *http.Request
		if r.Method == http.MethodGet {
			req = httptest.NewRequestWithContext(r.Context(), http.MethodGet, "/?"+rpc.EncodeForm(p), nil)
		} else {
			req = httptest.NewRequestWithContext(r.Context(), r.Method, "/", strings.NewReader(rpc.EncodeForm(p)))
			req.Header.Set("Content-Type", rpc.FormContentType)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		status, header, body := rec.Code, rec.Header().Clone(), rec.Body.Bytes()
		if m.out != nil {
			m.out(p, &status, header, &body)
		}
		header.Del("Content-Length")
		maps.Copy(w.Header(), header)
		w.WriteHeader(status)
		w.Write(body)
	})
}

// signAgain signs p correctly with the documents' example secret (the embedded target's).
func signAgain(method string, p url.Values) {
	p.Set(rpc.ParamSignature, rpc.Sign(method, p, spec.Default().Signature.ExampleAccessKeySecret))
}

// acceptReusedNonces replaces every SignatureNonce it has seen before with a fresh one.
func acceptReusedNonces() mangled {
	var mu sync.Mutex
	seen := map[string]bool{}
	n := 0
	return mangled{in: func(method string, p url.Values) {
		mu.Lock()
		defer mu.Unlock()
		nonce := p.Get(rpc.ParamSignatureNonce)
		if nonce == "" {
			return
		}
		if seen[nonce] {
			n++
			p.Set(rpc.ParamSignatureNonce, fmt.Sprintf("%s-again-%d", nonce, n))
			signAgain(method, p)
		}
		seen[nonce] = true
	}}
}

// describeXML500 answers DescribeEipAddresses in XML with a 500.
func describeXML500(p url.Values, status *int, header http.Header, body *[]byte) {
	if p.Get(rpc.ParamAction) == "DescribeEipAddresses" && strings.EqualFold(p.Get(rpc.ParamFormat), string(rpc.XML)) {
		*status = http.StatusInternalServerError
		header.Set("Content-Type", rpc.XML.ContentType())
		*body = []byte("<" + rpc.ErrorRoot() + "><RequestId>broken</RequestId><Code>InternalError</Code><Message>broken</Message></" + rpc.ErrorRoot() + ">")
	}
}

var xmlRequestID = regexp.MustCompile(`<RequestId>[^<]*</RequestId>`)

// dropXMLRequestID removes RequestId from every XML body.
func dropXMLRequestID(_ url.Values, _ *int, header http.Header, body *[]byte) {
	if strings.Contains(header.Get("Content-Type"), "xml") {
		*body = xmlRequestID.ReplaceAll(*body, nil)
	}
}

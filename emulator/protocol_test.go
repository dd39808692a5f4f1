package emulator_test

import (
	"encoding/xml"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eipconform/eipconform/emulator"
	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
)

// answer is one in-process response, its error body decoded when the status is not 2xx.
type answer struct {
	Status      int
	Header      http.Header
	Body        []byte
	Format      rpc.Format
	Error       *rpc.ErrorBody
	ErrorDecode error
}

// serveOne sends one request to h in-process. A body is sent as a form unless contentType
// says otherwise.
func serveOne(h http.Handler, method, target, contentType, body string) answer {
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, target, nil)
	} else {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
		if contentType == "" {
			contentType = rpc.FormContentType
		}
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	a := answer{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes(), Format: rpc.JSON}
	if mt, _, _ := mime.ParseMediaType(w.Header().Get("Content-Type")); strings.Contains(mt, "xml") {
		a.Format = rpc.XML
	}
	if a.Status < 200 || a.Status > 299 {
		e, err := rpc.DecodeError(a.Format, a.Body)
		a.Error, a.ErrorDecode = &e, err
	}
	return a
}

// send sends params to h: in the query for GET, as a form body for any other method.
func send(h http.Handler, method string, params url.Values) answer {
	if method == http.MethodGet {
		return serveOne(h, method, "/?"+params.Encode(), "", "")
	}
	return serveOne(h, method, "/", rpc.FormContentType, params.Encode())
}

// code is an answer's (status, code), "" for a success.
func (a answer) code() spec.ErrorRef {
	if a.Error == nil {
		return spec.ErrorRef{Status: a.Status}
	}
	return spec.ErrorRef{Status: a.Status, Code: a.Error.Code}
}

// signer completes and signs requests as an SDK would, with its own clock and a fresh nonce
// per request.
type signer struct {
	id, secret string
	now        func() time.Time
}

// nonces numbers the nonces of every signer.
var nonces atomic.Int64

// sign returns a copy of p with the common parameters added (unless p has them) and signed
// for method. A parameter set to "<del>" in p is removed before signing.
func (s *signer) sign(method string, p url.Values) url.Values {
	sig := spec.Default().Signature
	out := url.Values{}
	for k, v := range p {
		out[k] = slices.Clone(v)
	}
	for k, v := range map[string]string{
		rpc.ParamTimestamp:        s.now().UTC().Format(sig.TimestampLayout),
		rpc.ParamSignatureMethod:  sig.Method,
		rpc.ParamSignatureVersion: sig.Version,
		rpc.ParamSignatureNonce:   fmt.Sprintf("nonce-%d", nonces.Add(1)),
		rpc.ParamAccessKeyID:      s.id,
	} {
		if _, ok := out[k]; !ok {
			out.Set(k, v)
		}
	}
	for k, v := range out {
		if len(v) == 1 && v[0] == "<del>" {
			delete(out, k)
		}
	}
	if _, ok := out[rpc.ParamSignature]; !ok {
		out.Set(rpc.ParamSignature, rpc.Sign(method, out, s.secret))
	}
	return out
}

// unsigned returns a copy of p without the parameters set to "<del>".
func unsigned(p url.Values) url.Values {
	out := url.Values{}
	for k, v := range p {
		if len(v) != 1 || v[0] != "<del>" {
			out[k] = slices.Clone(v)
		}
	}
	return out
}

// exampleSigner signs with the spec's example key on clock c.
func exampleSigner(c *clock) *signer {
	sig := spec.Default().Signature
	return &signer{id: sig.ExampleAccessKeyID, secret: sig.ExampleAccessKeySecret, now: c.now}
}

// request returns Action, Version and RegionId cn-hangzhou (AllocatePublicIpAddress has no
// RegionId) with the "k", "v" pairs.
func request(action string, kv ...string) url.Values {
	version := "2016-04-28" // for actions the spec does not have
	if op := opOf(action); op != nil {
		version = op.Version
	}
	p := url.Values{"Action": {action}, "Version": {version}}
	if action != "AllocatePublicIpAddress" {
		p.Set("RegionId", "cn-hangzhou")
	}
	for i := 0; i+1 < len(kv); i += 2 {
		p.Set(kv[i], kv[i+1])
	}
	return p
}

// protocolRef returns the (status, code) of the spec's protocol error id.
func protocolRef(t testing.TB, id string) spec.ErrorRef {
	t.Helper()
	e, ok := spec.Default().ProtocolError(id)
	if !ok {
		t.Fatalf("test bug: the spec has no protocol error %s", id)
	}
	return e.Ref()
}

// newServer returns an emulator on a fresh clock.
func newServer(t testing.TB, opts emulator.Options) (*emulator.Server, *clock) {
	t.Helper()
	c := newClock()
	if opts.Now == nil {
		opts.Now = c.now
	}
	srv, err := emulator.New(opts)
	if err != nil {
		t.Fatalf("emulator.New: %v", err)
	}
	return srv, c
}

func TestAuthentication(t *testing.T) {
	ok := spec.ErrorRef{Status: http.StatusOK}
	for _, tc := range []struct {
		name string
		set  []string      // parameters set (or "<del>"eted) before signing
		skew time.Duration // the signer's clock minus the server's
		post func(url.Values)
		want spec.ErrorRef
	}{
		{name: "signed", want: ok},
		{name: "missing Signature", post: func(p url.Values) { p.Del(rpc.ParamSignature) }, want: protocolRef(t, spec.ErrMissingParameter)},
		{name: "empty Signature", post: func(p url.Values) { p.Set(rpc.ParamSignature, "") }, want: protocolRef(t, spec.ErrMissingParameter)},
		{name: "missing AccessKeyId", set: []string{rpc.ParamAccessKeyID, "<del>"}, want: protocolRef(t, spec.ErrMissingParameter)},
		{name: "missing SignatureNonce", set: []string{rpc.ParamSignatureNonce, "<del>"}, want: protocolRef(t, spec.ErrMissingParameter)},
		{name: "missing Timestamp", set: []string{rpc.ParamTimestamp, "<del>"}, want: protocolRef(t, spec.ErrMissingParameter)},
		{name: "missing SignatureMethod", set: []string{rpc.ParamSignatureMethod, "<del>"}, want: protocolRef(t, spec.ErrMissingParameter)},
		{name: "malformed Timestamp", set: []string{rpc.ParamTimestamp, "2026-11-23 12:00:00"}, want: protocolRef(t, spec.ErrTimestampFormat)},
		{name: "Timestamp without Z", set: []string{rpc.ParamTimestamp, "2026-11-23T12:00:00"}, want: protocolRef(t, spec.ErrTimestampFormat)},
		{name: "client clock 16 min behind", skew: -16 * time.Minute, want: protocolRef(t, spec.ErrTimestampExpired)},
		{name: "client clock 16 min ahead", skew: 16 * time.Minute, want: protocolRef(t, spec.ErrTimestampExpired)},
		{name: "client clock 14 min behind", skew: -14 * time.Minute, want: ok},
		{name: "client clock 14 min ahead", skew: 14 * time.Minute, want: ok},
		{name: "unknown AccessKeyId", set: []string{rpc.ParamAccessKeyID, "nobody"}, want: protocolRef(t, spec.ErrUnknownAccessKey)},
		{name: "wrong SignatureMethod", set: []string{rpc.ParamSignatureMethod, "HMAC-SHA256"}, want: protocolRef(t, spec.ErrSignatureMethod)},
		{name: "wrong SignatureVersion", set: []string{rpc.ParamSignatureVersion, "2.0"}, want: protocolRef(t, spec.ErrSignatureVersion)},
		{name: "forged Signature", post: func(p url.Values) {
			// As long as a real one, in the same alphabet, and wrong.
			forged := []byte(p.Get(rpc.ParamSignature))
			for i := range forged {
				forged[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[(i*7+3)%64]
			}
			p.Set(rpc.ParamSignature, string(forged[:len(forged)-1])+"=")
		}, want: protocolRef(t, spec.ErrSignatureMismatch)},
		{name: "signed with another secret", post: func(p url.Values) {
			p.Set(rpc.ParamSignature, rpc.Sign(http.MethodPost, p, spec.Default().Signature.ExampleAccessKeySecret+"x"))
		}, want: protocolRef(t, spec.ErrSignatureMismatch)},
		{name: "signature of other parameters", post: func(p url.Values) { p.Set("PageSize", "20") }, want: protocolRef(t, spec.ErrSignatureMismatch)},
		{name: "signature for the other method", post: func(p url.Values) {
			p.Set(rpc.ParamSignature, rpc.Sign(http.MethodGet, p, spec.Default().Signature.ExampleAccessKeySecret))
		}, want: protocolRef(t, spec.ErrSignatureMismatch)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, c := newServer(t, emulator.Options{})
			s := exampleSigner(c)
			s.now = func() time.Time { return c.now().Add(tc.skew) }
			p := s.sign(http.MethodPost, request("DescribeEipAddresses", tc.set...))
			if tc.post != nil {
				tc.post(p)
			}
			a := send(srv, http.MethodPost, p)
			if diff := cmp.Diff(tc.want, a.code()); diff != "" {
				t.Errorf("POST %s: status and code mismatch (-want +got):\n%s\nbody: %s", rpc.Redacted(p), diff, a.Body)
			}
			if a.Error != nil && a.ErrorDecode != nil {
				t.Errorf("POST %s: error body %s: %v", rpc.Redacted(p), a.Body, a.ErrorDecode)
			}
		})
	}
}

func TestMissingParameterNamesIt(t *testing.T) {
	srv, c := newServer(t, emulator.Options{})
	s := exampleSigner(c)
	for _, name := range []string{rpc.ParamAccessKeyID, rpc.ParamSignatureNonce, rpc.ParamTimestamp, rpc.ParamAction} {
		p := s.sign(http.MethodPost, request("DescribeEipAddresses", name, "<del>"))
		a := send(srv, http.MethodPost, p)
		if a.Error == nil || !strings.Contains(a.Error.Message, `"`+name+`"`) {
			t.Errorf("POST without %s: body %s; want a MissingParameter message naming %q", name, a.Body, name)
		}
	}
}

func TestSignatureMismatchMessage(t *testing.T) {
	srv, c := newServer(t, emulator.Options{})
	sig := spec.Default().Signature
	const wrong = "not-the-secret-4f1c"
	s := &signer{id: sig.ExampleAccessKeyID, secret: wrong, now: c.now}
	want := protocolRef(t, spec.ErrSignatureMismatch)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		p := s.sign(method, request("DescribeEipAddresses", "Name", "a b*c~/ü"))
		a := send(srv, method, p)
		if diff := cmp.Diff(want, a.code()); diff != "" {
			t.Errorf("%s signed with a wrong secret: mismatch (-want +got):\n%s\nbody: %s", method, diff, a.Body)
			continue
		}
		sts := rpc.StringToSign(method, p)
		if !strings.Contains(a.Error.Message, sts) {
			t.Errorf("%s: message %q does not quote the server's string to sign %q", method, a.Error.Message, sts)
		}
		for _, secret := range []string{wrong, sig.ExampleAccessKeySecret} {
			if strings.Contains(string(a.Body), secret) {
				t.Errorf("%s: the error body %s contains a secret (%q)", method, a.Body, secret)
			}
		}
	}
}

func TestNonceReplay(t *testing.T) {
	srv, c := newServer(t, emulator.Options{})
	s := exampleSigner(c)
	reused := protocolRef(t, spec.ErrNonceReused)
	call := func(context string, want spec.ErrorRef) {
		t.Helper()
		p := s.sign(http.MethodPost, request("DescribeEipAddresses", rpc.ParamSignatureNonce, "the-nonce"))
		a := send(srv, http.MethodPost, p)
		if diff := cmp.Diff(want, a.code()); diff != "" {
			t.Errorf("%s: mismatch (-want +got):\n%s\nrequest: %s\nbody: %s", context, diff, rpc.Redacted(p), a.Body)
		}
	}
	call("first use", spec.ErrorRef{Status: http.StatusOK})
	call("the same nonce again", reused)
	c.add(10 * time.Minute)
	call("the same nonce, 10 min later, a fresh Timestamp", reused)
	window := time.Duration(spec.Default().Signature.NonceWindowSeconds) * time.Second
	c.add(window + time.Minute)
	call("the same nonce after the window, a fresh Timestamp", spec.ErrorRef{Status: http.StatusOK})
	call("and again right away", reused)
}

func TestNonceMemoryBound(t *testing.T) {
	srv, c := newServer(t, emulator.Options{MaxNonces: 3})
	s := exampleSigner(c)
	use := func(nonce string) spec.ErrorRef {
		return send(srv, http.MethodPost, s.sign(http.MethodPost, request("DescribeEipAddresses", rpc.ParamSignatureNonce, nonce))).code()
	}
	ok, reused := spec.ErrorRef{Status: http.StatusOK}, protocolRef(t, spec.ErrNonceReused)
	for _, step := range []struct {
		nonce string
		want  spec.ErrorRef
	}{
		{"n1", ok}, {"n2", ok}, {"n3", ok},
		{"n1", reused}, // three remembered: n1 is one of them
		{"n4", ok},
		{"n1", ok}, // a fourth pushed n1 out
		{"n4", reused},
	} {
		if diff := cmp.Diff(step.want, use(step.nonce)); diff != "" {
			t.Fatalf("MaxNonces 3, nonce %s: mismatch (-want +got):\n%s", step.nonce, diff)
		}
	}
}

func TestCustomKeys(t *testing.T) {
	srv, c := newServer(t, emulator.Options{Keys: map[string]string{"ak-b": "sk-b", "ak-a": "sk-a"}})
	if diff := cmp.Diff([]string{"ak-a", "ak-b"}, srv.Keys()); diff != "" {
		t.Errorf("Keys() mismatch (-want +got):\n%s", diff)
	}
	sig := spec.Default().Signature
	for _, tc := range []struct {
		id, secret string
		want       spec.ErrorRef
	}{
		{"ak-a", "sk-a", spec.ErrorRef{Status: http.StatusOK}},
		{"ak-b", "sk-b", spec.ErrorRef{Status: http.StatusOK}},
		{"ak-a", "sk-b", protocolRef(t, spec.ErrSignatureMismatch)},
		{sig.ExampleAccessKeyID, sig.ExampleAccessKeySecret, protocolRef(t, spec.ErrUnknownAccessKey)},
	} {
		s := &signer{id: tc.id, secret: tc.secret, now: c.now}
		a := send(srv, http.MethodPost, s.sign(http.MethodPost, request("DescribeEipAddresses")))
		if diff := cmp.Diff(tc.want, a.code()); diff != "" {
			t.Errorf("key %s signed with %s: mismatch (-want +got):\n%s\nbody: %s", tc.id, tc.secret, diff, a.Body)
		}
	}
}

func TestNoAuth(t *testing.T) {
	srv, c := newServer(t, emulator.Options{NoAuth: true})
	wrong := &signer{id: "nobody", secret: "wrong", now: c.now}
	for name, p := range map[string]url.Values{
		"unsigned":                request("DescribeEipAddresses"),
		"signed with a wrong key": wrong.sign(http.MethodPost, request("DescribeEipAddresses")),
	} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			if a := send(srv, method, p); a.Status != http.StatusOK {
				t.Errorf("NoAuth, %s %s: got %d %s, want 200", method, name, a.Status, a.Body)
			}
		}
	}
}

func TestCommonParameters(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    url.Values
		want spec.ErrorRef
	}{
		{"wrong Version", request("DescribeEipAddresses", "Version", "2014-05-26"), protocolRef(t, spec.ErrBadVersion)},
		{"missing Version", request("DescribeEipAddresses", "Version", "<del>"), protocolRef(t, spec.ErrMissingParameter)},
		{"missing Action", request("DescribeEipAddresses", "Action", "<del>"), protocolRef(t, spec.ErrMissingParameter)},
		{"unknown Action", request("DescribeEipAddresses", "Action", "DescribeEverything"), protocolRef(t, spec.ErrUnknownAction)},
		{"Action in another case", request("DescribeEipAddresses", "Action", "describeeipaddresses"), protocolRef(t, spec.ErrUnknownAction)},
		{"unknown parameters", request("DescribeEipAddresses", "Foo", "bar", "X.1.Y", "z", "regionid", "nowhere"), spec.ErrorRef{Status: http.StatusOK}},
	} {
		for _, auth := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/auth=%v", tc.name, auth), func(t *testing.T) {
				srv, c := newServer(t, emulator.Options{NoAuth: !auth})
				p := unsigned(tc.p)
				if auth {
					p = exampleSigner(c).sign(http.MethodPost, tc.p)
				}
				a := send(srv, http.MethodPost, p)
				if diff := cmp.Diff(tc.want, a.code()); diff != "" {
					t.Errorf("POST %s: mismatch (-want +got):\n%s\nbody: %s", rpc.Redacted(p), diff, a.Body)
				}
			})
		}
	}
}

func TestMethods(t *testing.T) {
	srv, c := newServer(t, emulator.Options{})
	s := exampleSigner(c)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		a := send(srv, method, s.sign(method, request("AllocateEipAddress", "Name", "via-"+method)))
		if a.Status != http.StatusOK {
			t.Fatalf("%s AllocateEipAddress: got %d %s, want 200", method, a.Status, a.Body)
		}
	}

	// POST with the parameters split between the query and the form body, signed as one set.
	p := s.sign(http.MethodPost, request("DescribeEipAddresses"))
	query, form := url.Values{}, url.Values{}
	for k, v := range p {
		if k == "Action" || k == "Version" || k == rpc.ParamSignature {
			query[k] = v
		} else {
			form[k] = v
		}
	}
	a := serveOne(srv, http.MethodPost, "/?"+query.Encode(), rpc.FormContentType, form.Encode())
	if a.Status != http.StatusOK {
		t.Fatalf("POST ?%s with body %s: got %d %s, want 200", rpc.Redacted(query), rpc.Redacted(form), a.Status, a.Body)
	}
	if !strings.Contains(string(a.Body), `"TotalCount":2`) {
		t.Errorf("POST split between query and body: %s, want TotalCount 2", a.Body)
	}

	// A POST whose body is not a form: its parameters are not read.
	p = s.sign(http.MethodPost, request("DescribeEipAddresses"))
	a = serveOne(srv, http.MethodPost, "/", "application/json", p.Encode())
	if diff := cmp.Diff(protocolRef(t, spec.ErrMissingParameter), a.code()); diff != "" {
		t.Errorf("POST with the parameters in an application/json body: mismatch (-want +got):\n%s\nbody: %s", diff, a.Body)
	}
}

// xmlDoc is any XML document: its root and the root's children, in order.
type xmlDoc struct {
	XMLName  xml.Name
	Children []struct {
		XMLName xml.Name
		Text    string `xml:",chardata"`
	} `xml:",any"`
}

func TestFormats(t *testing.T) {
	srv, c := newServer(t, emulator.Options{})
	s := exampleSigner(c)
	for _, action := range []string{"AllocateEipAddress", "DescribeEipAddresses", "OpenVpcIpamService", "AllocatePublicIpAddress"} {
		op := opOf(action)
		for i, format := range []string{"XML", "xml", "JSON", ""} {
			p := request(action)
			if action == "AllocatePublicIpAddress" {
				p.Set("InstanceId", fmt.Sprintf("i-emu-running-%d", i+1)) // one public IP per instance
			}
			if format != "" {
				p.Set(rpc.ParamFormat, format)
			}
			a := send(srv, http.MethodPost, s.sign(http.MethodPost, p))
			if a.Status != http.StatusOK {
				t.Errorf("%s Format=%q: got %d %s, want 200", action, format, a.Status, a.Body)
				continue
			}
			want, _ := rpc.ParseFormat(format, rpc.DefaultFormat())
			if got := a.Header.Get("Content-Type"); got != want.ContentType() {
				t.Errorf("%s Format=%q: Content-Type %q, want %q", action, format, got, want.ContentType())
			}
			root, v, err := rpc.DecodeSuccess(want, a.Body, op.SuccessSchema().Value)
			if err != nil {
				t.Errorf("%s Format=%q: %v\nbody: %s", action, format, err, a.Body)
				continue
			}
			if want == rpc.XML && root != op.XMLRoot() {
				t.Errorf("%s Format=%q: root <%s>, want <%s>", action, format, root, op.XMLRoot())
			}
			if id, _ := v.(map[string]any)["RequestId"].(string); id == "" {
				t.Errorf("%s Format=%q: no RequestId in %s", action, format, a.Body)
			}
		}
	}
}

func TestErrorBodies(t *testing.T) {
	srv, c := newServer(t, emulator.Options{})
	s := exampleSigner(c)
	fields := []string{"RequestId", "HostId", "Code", "Message", "Recommend"}
	ids := map[string]bool{}
	for _, tc := range []struct {
		name string
		p    url.Values
	}{
		{"unknown action", request("Nope")},
		{"state error", request("ReleaseEipAddress", "AllocationId", "eip-nowhere")},
		{"parameter error", request("AllocateEipAddress", "Bandwidth", "0")},
	} {
		for _, format := range []rpc.Format{rpc.XML, rpc.JSON} {
			p := tc.p
			p.Set(rpc.ParamFormat, string(format))
			a := send(srv, http.MethodPost, s.sign(http.MethodPost, p))
			if a.Status < 400 || a.Status > 499 {
				t.Errorf("%s in %s: status %d, want 4xx", tc.name, format, a.Status)
				continue
			}
			if a.Header.Get("Content-Type") != format.ContentType() {
				t.Errorf("%s in %s: Content-Type %q, want %q", tc.name, format, a.Header.Get("Content-Type"), format.ContentType())
			}
			if a.ErrorDecode != nil {
				t.Errorf("%s in %s: %v\nbody: %s", tc.name, format, a.ErrorDecode, a.Body)
			}
			var got []string
			if format == rpc.XML {
				var d xmlDoc
				if err := xml.Unmarshal(a.Body, &d); err != nil {
					t.Errorf("%s in XML: %v\nbody: %s", tc.name, err, a.Body)
					continue
				}
				if d.XMLName.Local != rpc.ErrorRoot() {
					t.Errorf("%s in XML: root <%s>, want <%s>", tc.name, d.XMLName.Local, rpc.ErrorRoot())
				}
				for _, ch := range d.Children {
					if ch.Text != "" {
						got = append(got, ch.XMLName.Local)
					}
				}
			} else {
				e := a.Error
				for _, f := range []struct{ name, v string }{{"RequestId", e.RequestId}, {"HostId", e.HostId}, {"Code", e.Code}, {"Message", e.Message}, {"Recommend", e.Recommend}} {
					if f.v != "" {
						got = append(got, f.name)
					}
				}
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(fields))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s in %s: non-empty fields mismatch (-want +got):\n%s\nbody: %s", tc.name, format, diff, a.Body)
			}
			if a.Error != nil {
				if ids[a.Error.RequestId] {
					t.Errorf("%s in %s: RequestId %s seen before", tc.name, format, a.Error.RequestId)
				}
				ids[a.Error.RequestId] = true
			}
		}
	}
}

// TestEveryAnswerHasRequestID covers the answers that never reach an operation: a bad path,
// a bad method, an unreadable body.
func TestEveryAnswerHasRequestID(t *testing.T) {
	srv, _ := newServer(t, emulator.Options{})
	for _, tc := range []struct{ method, target, body string }{
		{http.MethodGet, "/?Format=XML", ""},
		{http.MethodGet, "/", ""},
		{http.MethodGet, "/other?Format=XML&Action=DescribeEipAddresses", ""},
		{http.MethodPut, "/?Format=JSON", ""},
		{http.MethodDelete, "/?Format=XML", ""},
		{http.MethodGet, "/?Format=XML&Name=%zz", ""},
		{http.MethodPost, "/?Format=XML", "Name=%zz"},
	} {
		a := serveOne(srv, tc.method, tc.target, "", tc.body)
		switch {
		case a.Status < 400 || a.Status > 499:
			t.Errorf("%s %s %q: status %d, want 4xx\nbody: %s", tc.method, tc.target, tc.body, a.Status, a.Body)
		case a.ErrorDecode != nil:
			t.Errorf("%s %s %q: %v\nbody: %s", tc.method, tc.target, tc.body, a.ErrorDecode, a.Body)
		case a.Error.RequestId == "":
			t.Errorf("%s %s %q: no RequestId in %s", tc.method, tc.target, tc.body, a.Body)
		}
	}
}

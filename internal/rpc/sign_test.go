package rpc_test

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/google/go-cmp/cmp"

	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
)

// testKey returns the spec's example AccessKey pair (004's testid / testsecret).
func testKey() (id, secret string) {
	s := spec.Default().Signature
	return s.ExampleAccessKeyID, s.ExampleAccessKeySecret
}

func TestParamNamesAreCommonParameters(t *testing.T) {
	for _, name := range []string{
		rpc.ParamAction, rpc.ParamVersion, rpc.ParamFormat, rpc.ParamAccessKeyID, rpc.ParamSignature,
		rpc.ParamSignatureMethod, rpc.ParamSignatureVersion, rpc.ParamSignatureNonce, rpc.ParamTimestamp,
	} {
		if !slices.Contains(spec.Default().CommonParameters, name) {
			t.Errorf("rpc.Param... %q is not in the spec's x-rpc.commonParameters %v", name, spec.Default().CommonParameters)
		}
	}
}

func TestPercentEncode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"AZaz09-_.~", "AZaz09-_.~"},
		{"a b", "a%20b"},
		{"*", "%2A"},
		{"~", "~"},
		{"/", "%2F"},
		{"=", "%3D"},
		{"&", "%26"},
		{"+", "%2B"},
		{"%", "%25"},
		{":", "%3A"},
		{"2016-02-23T12:46:24Z", "2016-02-23T12%3A46%3A24Z"},
		{"名", "%E5%90%8D"},
		{"é", "%C3%A9"},
		{"\x00\xff", "%00%FF"},
		{"!'()", "%21%27%28%29"},
	}
	for _, tt := range tests {
		if got := rpc.PercentEncode(tt.in); got != tt.want {
			t.Errorf("PercentEncode(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := spec.Default().Signature.PercentEncoding; got != "RFC3986" {
		t.Errorf("the spec's signature percentEncoding is %q; PercentEncode implements RFC3986", got)
	}
}

func TestCanonicalQuery(t *testing.T) {
	tests := []struct {
		name string
		in   url.Values
		want string
	}{
		{"empty", url.Values{}, ""},
		{"sorted by byte order, upper case first", url.Values{"b": {"1"}, "B": {"2"}, "a": {"3"}, "A.1": {"4"}, "A": {"5"}}, "A=5&A.1=4&B=2&a=3&b=1"},
		{"Signature left out", url.Values{"Signature": {"x"}, "Action": {"A"}}, "Action=A"},
		{"empty values kept", url.Values{"SignatureType": {""}, "Action": {"A"}}, "Action=A&SignatureType="},
		{"first of several values", url.Values{"X": {"1", "2"}}, "X=1"},
		{"name without values left out", url.Values{"X": {}, "Y": {"y"}}, "Y=y"},
		{"names and values encoded", url.Values{"a b": {"c&d=e"}, "Tag.1.Key": {"k*~"}}, "Tag.1.Key=k%2A~&a%20b=c%26d%3De"},
		{"sorted before encoding", url.Values{"a~": {"1"}, "a%": {"2"}}, "a%25=2&a~=1"},
	}
	for _, tt := range tests {
		if got := rpc.CanonicalQuery(tt.in); got != tt.want {
			t.Errorf("%s: CanonicalQuery(%v) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

// TestSignKnownAnswer is the worked example of Alibaba Cloud's signature v1.0 documentation
// (ECS DescribeRegions with testid / testsecret). 004's own walk-through cannot be used: it
// signs other values than it shows (ambiguity signature-example-versions).
func TestSignKnownAnswer(t *testing.T) {
	id, secret := testKey()
	params := url.Values{
		"AccessKeyId": {id}, "Action": {"DescribeRegions"}, "Format": {"XML"},
		"SignatureMethod": {spec.Default().Signature.Method}, "SignatureNonce": {"3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"},
		"SignatureVersion": {spec.Default().Signature.Version}, "Timestamp": {"2016-02-23T12:46:24Z"}, "Version": {"2014-05-26"},
	}
	const wantString = "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML" +
		"%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf" +
		"%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
	const wantSignature = "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
	if got := rpc.StringToSign("GET", params); got != wantString {
		t.Errorf("StringToSign(GET, %v) mismatch (-want +got):\n%s", params, cmp.Diff(wantString, got))
	}
	if got := rpc.Sign("GET", params, secret); got != wantSignature {
		t.Errorf("Sign(GET, %v, %q) = %q, want %q", params, secret, got, wantSignature)
	}
	params.Set(rpc.ParamSignature, wantSignature)
	if ok, _ := rpc.Verify("GET", params, secret); !ok {
		t.Errorf("Verify(GET, documented example, %q) = false, want true", secret)
	}
}

// sdkCase is one parameter set the Go SDK signs.
type sdkCase struct {
	name  string
	query map[string]string
	form  map[string]string
}

var sdkCases = []sdkCase{
	{name: "plain", query: map[string]string{"RegionId": "cn-hangzhou", "Bandwidth": "5"}},
	{name: "unicode", query: map[string]string{"Name": "弹性公网IP", "Description": "café ü 😀"}},
	{name: "reserved characters", query: map[string]string{"Name": "a b*c~d", "Description": "x+y=z&w/v%u:t;s!'()", "ClientToken": "  "}},
	{name: "empty value", query: map[string]string{"Description": ""}},
	{name: "form and query", query: map[string]string{"RegionId": "cn-hangzhou", "Name": "query"}, form: map[string]string{"Description": "in the body *~ +", "Name": "form wins"}},
}

// TestSignMatchesSDK signs with the Go SDK's own signer (auth.Sign, what its clients call) and
// checks that our StringToSign and Sign agree with it exactly and that Verify accepts it: the
// SDK adds SignatureType= (empty) and signs query and form parameters as one map, form last.
func TestSignMatchesSDK(t *testing.T) {
	id, secret := testKey()
	op := spec.Default().Operation("AllocateEipAddress")
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		for _, tc := range sdkCases {
			t.Run(method+"/"+tc.name, func(t *testing.T) {
				req, params := sdkSign(t, op, method, tc.query, tc.form, id, secret)
				if got, want := params.Get(rpc.ParamSignatureMethod), spec.Default().Signature.Method; got != want {
					t.Errorf("SDK sent SignatureMethod %q; the spec says %q", got, want)
				}
				if got, want := params.Get(rpc.ParamSignatureVersion), spec.Default().Signature.Version; got != want {
					t.Errorf("SDK sent SignatureVersion %q; the spec says %q", got, want)
				}
				if diff := cmp.Diff(req.GetStringToSign(), rpc.StringToSign(method, params)); diff != "" {
					t.Errorf("StringToSign(%s, %v) differs from the SDK's (-sdk +ours):\n%s", method, params, diff)
				}
				if got, want := rpc.Sign(method, params, secret), params.Get(rpc.ParamSignature); got != want {
					t.Errorf("Sign(%s, %v) = %q; the SDK signed %q", method, params, got, want)
				}
				if ok, sts := rpc.Verify(method, params, secret); !ok {
					t.Errorf("Verify(%s, SDK-signed %v) = false, want true\nour string to sign: %s", method, params, sts)
				}
			})
		}
	}
}

func TestVerify(t *testing.T) {
	id, secret := testKey()
	base := url.Values{
		"Action": {"ReleaseEipAddress"}, "AllocationId": {"eip-1"}, "AccessKeyId": {id},
		"SignatureNonce": {"n"}, "Timestamp": {"2024-01-01T00:00:00Z"}, "Name": {"a b"},
	}
	signed := func(method string) url.Values {
		p := cloneValues(base)
		p.Set(rpc.ParamSignature, rpc.Sign(method, p, secret))
		return p
	}
	tests := []struct {
		name   string
		method string // the server's method
		params url.Values
		secret string
		want   bool
	}{
		{"signed", http.MethodPost, signed(http.MethodPost), secret, true},
		{"extra Signature values ignored", http.MethodPost, with(signed(http.MethodPost), func(p url.Values) { p.Add(rpc.ParamSignature, "junk") }), secret, true},
		{"wrong secret", http.MethodPost, signed(http.MethodPost), secret + "x", false},
		{"empty secret", http.MethodPost, signed(http.MethodPost), "", false},
		{"missing Signature", http.MethodPost, base, secret, false},
		{"empty Signature", http.MethodPost, with(base, func(p url.Values) { p.Set(rpc.ParamSignature, "") }), secret, false},
		{"tampered value", http.MethodPost, with(signed(http.MethodPost), func(p url.Values) { p.Set("AllocationId", "eip-2") }), secret, false},
		{"added parameter", http.MethodPost, with(signed(http.MethodPost), func(p url.Values) { p.Set("Bandwidth", "5") }), secret, false},
		{"added empty parameter", http.MethodPost, with(signed(http.MethodPost), func(p url.Values) { p.Set("SignatureType", "") }), secret, false},
		{"removed parameter", http.MethodPost, with(signed(http.MethodPost), func(p url.Values) { p.Del("Name") }), secret, false},
		{"other method", http.MethodGet, signed(http.MethodPost), secret, false},
		{"truncated signature", http.MethodPost, with(signed(http.MethodPost), func(p url.Values) { p.Set(rpc.ParamSignature, p.Get(rpc.ParamSignature)[:10]) }), secret, false},
	}
	for _, tt := range tests {
		ok, sts := rpc.Verify(tt.method, tt.params, tt.secret)
		if ok != tt.want {
			t.Errorf("%s: Verify(%s, %v, secret %q) = %v, want %v", tt.name, tt.method, tt.params, tt.secret, ok, tt.want)
		}
		if want := rpc.StringToSign(tt.method, tt.params); sts != want {
			t.Errorf("%s: Verify's string to sign = %q, want StringToSign = %q", tt.name, sts, want)
		}
	}
}

// with returns a modified copy of p.
func with(p url.Values, modify func(url.Values)) url.Values {
	q := cloneValues(p)
	modify(q)
	return q
}

func cloneValues(p url.Values) url.Values {
	q := url.Values{}
	for k, v := range p {
		q[k] = slices.Clone(v)
	}
	return q
}

// FuzzSignVerify checks that a signed request always verifies, both as values and after the
// trip over the wire (the client's encoding read back by ReadParams, in the query or the
// body), and that changing the value makes it fail.
//
//	go test -run '^$' -fuzz '^FuzzSignVerify$' -fuzztime 30s ./internal/rpc
func FuzzSignVerify(f *testing.F) {
	f.Add("Name", "a b*c~", "testsecret", true)
	f.Add("Description", "x+y=z&w/v%u;t", "", false)
	f.Add("名", "弹性\x00\xff", "s&", true)
	f.Add("", "", "x", false)
	f.Add("Signature", "v", "x", true)
	f.Fuzz(func(t *testing.T, name, value, secret string, post bool) {
		if name == rpc.ParamSignature {
			return
		}
		method := http.MethodGet
		if post {
			method = http.MethodPost
		}
		params := url.Values{"Action": {"DescribeEipAddresses"}, "SignatureNonce": {"n"}}
		params.Set(name, value)
		params.Set(rpc.ParamSignature, rpc.Sign(method, params, secret))
		if ok, sts := rpc.Verify(method, params, secret); !ok {
			t.Fatalf("Verify(%s, Sign(%v)) = false, want true; string to sign %q", method, params, sts)
		}

		// Over the wire: encode as the client does, read back as the server does.
		wire := encode(params)
		var r *http.Request
		if post {
			r = httptest.NewRequest(method, "/", strings.NewReader(wire))
			r.Header.Set("Content-Type", rpc.FormContentType)
		} else {
			r = httptest.NewRequest(method, "/?"+wire, nil)
		}
		got, err := rpc.ReadParams(r, 0)
		if err != nil {
			t.Fatalf("ReadParams(%s %q) = %v", method, wire, err)
		}
		if ok, sts := rpc.Verify(method, got, secret); !ok {
			t.Fatalf("Verify after the wire (%s %q, read %v) = false, want true; string to sign %q", method, wire, got, sts)
		}

		tampered := cloneValues(params)
		tampered.Set(name, value+"x")
		if ok, _ := rpc.Verify(method, tampered, secret); ok {
			t.Fatalf("Verify(%s, %v with %s changed) = true, want false", method, tampered, name)
		}
	})
}

// encode renders params as Client does: sorted, RFC 3986.
func encode(p url.Values) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(p)) {
		for _, v := range p[k] {
			parts = append(parts, rpc.PercentEncode(k)+"="+rpc.PercentEncode(v))
		}
	}
	return strings.Join(parts, "&")
}

// sdkSign signs a request of op with the Go SDK's own signer (auth.Sign, what its clients
// call) and returns it with every parameter it carries, query and form (form last, as the SDK
// signs them).
func sdkSign(t testing.TB, op *spec.Operation, method string, query, form map[string]string, id, secret string) (*requests.CommonRequest, url.Values) {
	t.Helper()
	req := requests.NewCommonRequest()
	req.Method = method
	req.Product, req.Version, req.ApiName = op.Product, op.Version, op.Action
	for k, v := range query {
		req.QueryParams[k] = v
	}
	for k, v := range form {
		req.FormParams[k] = v
	}
	req.TransToAcsRequest()
	if err := auth.Sign(req, nil, "cn-hangzhou", credentials.NewStaticAKCredentialsProvider(id, secret)); err != nil {
		t.Fatalf("SDK auth.Sign = %v", err)
	}
	params := url.Values{}
	for k, v := range req.GetQueryParams() {
		params.Set(k, v)
	}
	for k, v := range req.GetFormParams() {
		params.Set(k, v)
	}
	return req, params
}

func TestRedacted(t *testing.T) {
	for _, tc := range []struct {
		in   url.Values
		want string
	}{
		{nil, ""},
		{url.Values{"Action": {"A"}}, "Action=A"},
		{url.Values{"Action": {"A"}, rpc.ParamSignature: {"c2lnbmF0dXJl", "x"}}, "Action=A&Signature=REDACTED"},
	} {
		before := cloneValues(tc.in)
		if got := rpc.Redacted(tc.in); got != tc.want {
			t.Errorf("Redacted(%v) = %q, want %q", tc.in, got, tc.want)
		}
		if diff := cmp.Diff(before, tc.in); tc.in != nil && diff != "" {
			t.Errorf("Redacted changed its argument (-before +after):\n%s", diff)
		}
	}
}

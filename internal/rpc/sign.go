// Package rpc is what both sides of Alibaba Cloud's RPC wire share: signature v1.0, reading a
// request's parameters, the JSON and XML response bodies, and a signing client.
//
// The reference emulator serves with it and the conformance engine sends with it, so the two
// cannot drift apart; the Go SDK cross-checks both. Every fact of the protocol (signature
// method and version, key suffix, timestamp layout, default format, protocol error codes, the
// XML error root) is read from the contract, [spec.Default], never written here.
//
// Typical usage, serving:
//
//	params, err := rpc.ReadParams(r, 0)
//	if err != nil {
//		// a *rpc.ParamsError: answer with its Status
//	}
//	format, _ := rpc.ParseFormat(params.Get(rpc.ParamFormat), rpc.DefaultFormat())
//	if ok, stringToSign := rpc.Verify(r.Method, params, secret); !ok {
//		status, body, _ := rpc.ProtocolErrorBody(spec.ErrSignatureMismatch, requestID, stringToSign)
//		rpc.WriteError(w, format, status, body)
//		return
//	}
//	err = rpc.WriteSuccess(w, format, op.XMLRoot(), op.SuccessSchema().Value, response)
//
// and calling:
//
//	c := &rpc.Client{Endpoint: srv.URL, AccessKeyID: "testid", AccessKeySecret: "testsecret"}
//	resp, err := c.Do(ctx, url.Values{"Action": {"DescribeEipAddresses"}, "Version": {"2016-04-28"}})
//	if err == nil && resp.Error != nil {
//		fmt.Println(resp.Status, resp.Error.Code)
//	}
package rpc

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"

	"github.com/eipconform/eipconform/spec"
)

// Names of the common parameters this package reads or writes. The test checks each against
// the spec's x-rpc.commonParameters.
//
//	params.Get(rpc.ParamSignatureNonce)
const (
	ParamAction           = "Action"
	ParamVersion          = "Version"
	ParamFormat           = "Format"
	ParamAccessKeyID      = "AccessKeyId"
	ParamSignature        = "Signature"
	ParamSignatureMethod  = "SignatureMethod"
	ParamSignatureVersion = "SignatureVersion"
	ParamSignatureNonce   = "SignatureNonce"
	ParamTimestamp        = "Timestamp"
)

// PercentEncode is Alibaba Cloud's RFC 3986 encoding: the unreserved characters A-Z a-z 0-9
// - _ . ~ are kept, every other byte is %XX in upper-case hexadecimal (space is %20, * is
// %2A, / is %2F, UTF-8 is encoded byte by byte).
//
//	rpc.PercentEncode("a b*c~/") // "a%20b%2Ac~%2F"
func PercentEncode(s string) string {
	escapes := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			escapes++
		}
	}
	if escapes == 0 {
		return s
	}
	return string(appendPercent(make([]byte, 0, len(s)+2*escapes), s))
}

// appendPercent appends PercentEncode(s) to b.
func appendPercent(b []byte, s string) []byte {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
	}
	return b
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// CanonicalQuery sorts every parameter except Signature by name (byte order, before encoding)
// and joins PercentEncode(name)=PercentEncode(value) with &. Empty values are included (the Go
// SDK sends SignatureType=); for a name with several values the first is used, and a name
// with none is left out.
//
//	rpc.CanonicalQuery(url.Values{"b": {"2 3"}, "A": {""}}) // "A=&b=2%203"
func CanonicalQuery(params url.Values) string {
	keys := make([]string, 0, len(params))
	for k, v := range params {
		if k != ParamSignature && len(v) > 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(PercentEncode(k))
		b.WriteByte('=')
		b.WriteString(PercentEncode(params[k][0]))
	}
	return b.String()
}

// StringToSign is method + "&" + PercentEncode("/") + "&" + PercentEncode(CanonicalQuery(params)),
// the string signature v1.0 signs.
//
//	rpc.StringToSign("GET", url.Values{"Action": {"DescribeRegions"}}) // "GET&%2F&Action%3DDescribeRegions"
func StringToSign(method string, params url.Values) string {
	// Built in one pass: percent-encoding the canonical query a second time turns every
	// escape %XX into %25XX, "=" into %3D and "&" into %26, and keeps unreserved bytes.
	const hexDigits = "0123456789ABCDEF"
	keys := make([]string, 0, len(params))
	size := len(method) + 5
	for k, v := range params {
		if k != ParamSignature && len(v) > 0 {
			keys = append(keys, k)
			size += 3*(len(k)+len(v[0])) + 6
		}
	}
	slices.Sort(keys)
	b := make([]byte, 0, size)
	b = append(b, method...)
	b = append(b, '&')
	b = append(b, PercentEncode("/")...)
	b = append(b, '&')
	twice := func(s string) {
		for i := 0; i < len(s); i++ {
			if c := s[i]; unreserved(c) {
				b = append(b, c)
			} else {
				b = append(b, '%', '2', '5', hexDigits[c>>4], hexDigits[c&15])
			}
		}
	}
	for i, k := range keys {
		if i > 0 {
			b = append(b, "%26"...)
		}
		twice(k)
		b = append(b, "%3D"...)
		twice(params[k][0])
	}
	return string(b)
}

// Sign returns the signature v1.0 of a request: base64(HMAC-SHA1(secret + key suffix,
// StringToSign(method, params))), with the key suffix ("&") from the spec. Any Signature
// parameter in params is ignored.
//
//	params.Set(rpc.ParamSignature, rpc.Sign("POST", params, secret))
func Sign(method string, params url.Values, secret string) string {
	return sign(StringToSign(method, params), secret)
}

func sign(stringToSign, secret string) string {
	mac := hmac.New(sha1.New, []byte(secret+spec.Default().Signature.KeySuffix))
	mac.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Verify reports whether params carries a Signature equal to Sign(method, params, secret),
// comparing in constant time. It also returns the server's string to sign, which the
// signature-mismatch error message quotes. A missing or empty Signature never verifies.
//
//	ok, stringToSign := rpc.Verify(r.Method, params, secret)
func Verify(method string, params url.Values, secret string) (ok bool, stringToSign string) {
	stringToSign = StringToSign(method, params)
	got := params.Get(ParamSignature)
	if got == "" {
		return false, stringToSign
	}
	want := sign(stringToSign, secret)
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1, stringToSign
}

// EncodeForm renders params for a query string or a form body: every value of every name,
// sorted by name, percent-encoded as the signature encodes them.
//
//	body := rpc.EncodeForm(params) // "Action=ReleaseEipAddress&AllocationId=eip-1&..."
func EncodeForm(params url.Values) string {
	keys := make([]string, 0, len(params))
	size := 0
	for k, vs := range params {
		keys = append(keys, k)
		for _, v := range vs {
			size += len(k) + 3*len(v) + 2
		}
	}
	slices.Sort(keys)
	b := make([]byte, 0, size)
	for _, k := range keys {
		for _, v := range params[k] {
			if len(b) > 0 {
				b = append(b, '&')
			}
			b = appendPercent(b, k)
			b = append(b, '=')
			b = appendPercent(b, v)
		}
	}
	return string(b)
}

// cloneValues returns a deep copy of params, with room for extra more parameters in the
// map and for extra more values in the slab that holds the copy's values.
func cloneValues(params url.Values, extra int) (url.Values, *valueSlab) {
	n := 0
	for _, v := range params {
		n += len(v)
	}
	out := make(url.Values, len(params)+extra)
	slab := &valueSlab{s: make([]string, 0, n+extra)}
	for k, v := range params {
		if v == nil {
			out[k] = nil
			continue
		}
		out[k] = slab.add(v...)
	}
	return out, slab
}

// valueSlab holds the values of a set of parameters in one array, so that copying or
// completing a request's parameters allocates once instead of once per parameter.
type valueSlab struct{ s []string }

// add returns a slice of the slab holding v; appending to it never writes into the slab.
func (b *valueSlab) add(v ...string) []string {
	i := len(b.s)
	b.s = append(b.s, v...)
	return b.s[i:len(b.s):len(b.s)]
}

// Redacted renders request parameters for a message or a report, with any Signature
// replaced by REDACTED; "" for nil. The secret is never a parameter, so it cannot appear.
//
//	t.Errorf("POST %s: got %d", rpc.Redacted(params), status)
func Redacted(p url.Values) string {
	if p == nil {
		return ""
	}
	q := make(url.Values, len(p))
	for k, v := range p {
		q[k] = v
	}
	if q.Has(ParamSignature) {
		q[ParamSignature] = []string{"REDACTED"}
	}
	return q.Encode()
}

package rpc_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
	"github.com/google/go-cmp/cmp"

	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
)

// capture is what a test server saw of one request.
type capture struct {
	method      string
	contentType string
	rawQuery    string
	body        string
	params      url.Values
	readErr     error
	ok          bool // Verify
	stringToSig string
}

// verifyServer is an httptest server that reads every request with ReadParams, verifies it
// with the spec's example secret and answers with respond.
type verifyServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen []capture
}

func newVerifyServer(t *testing.T, respond func(w http.ResponseWriter, r *http.Request, params url.Values)) *verifyServer {
	t.Helper()
	_, secret := testKey()
	s := &verifyServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := capture{method: r.Method, contentType: r.Header.Get("Content-Type"), rawQuery: r.URL.RawQuery}
		var bodyCopy strings.Builder
		r.Body = readCloser{r.Body, &bodyCopy}
		c.params, c.readErr = rpc.ReadParams(r, 0)
		_, _ = io.Copy(io.Discard, r.Body) // what ReadParams left, a GET's body say, is captured too
		c.body = bodyCopy.String()
		if c.readErr == nil {
			c.ok, c.stringToSig = rpc.Verify(r.Method, c.params, secret)
		}
		s.mu.Lock()
		s.seen = append(s.seen, c)
		s.mu.Unlock()
		respond(w, r, c.params)
	}))
	t.Cleanup(s.Close)
	return s
}

// last returns the last request the server saw.
func (s *verifyServer) last(t *testing.T) capture {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) == 0 {
		t.Fatal("the server saw no request")
	}
	return s.seen[len(s.seen)-1]
}

// readCloser copies what is read from the body.
type readCloser struct {
	r    io.ReadCloser
	copy *strings.Builder
}

func (rc readCloser) Read(p []byte) (int, error) {
	n, err := rc.r.Read(p)
	rc.copy.Write(p[:n])
	return n, err
}

func (rc readCloser) Close() error { return rc.r.Close() }

// example returns the operation's first success example.
func example(t *testing.T, action string) (*spec.Operation, any) {
	t.Helper()
	op := spec.Default().Operation(action)
	if op == nil || len(op.Examples) == 0 {
		t.Fatalf("the spec has no example for %s", action)
	}
	return op, op.Examples[0].Value
}

// sdkClient returns a Go SDK Vpc client with the spec's example key.
func sdkClient(t *testing.T) *vpc.Client {
	t.Helper()
	id, secret := testKey()
	c, err := vpc.NewClientWithAccessKey("cn-hangzhou", id, secret)
	if err != nil {
		t.Fatalf("vpc.NewClientWithAccessKey = %v", err)
	}
	return c
}

// TestSDKRequestsVerify sends requests with the real Go SDK client to a server that reads them
// with ReadParams and checks them with Verify: every one must verify, GET and POST, with the
// SDK's empty SignatureType, unicode, reserved characters, and form parameters next to query
// parameters; the same parameters with one value changed must not.
func TestSDKRequestsVerify(t *testing.T) {
	_, secret := testKey()
	op, ex := example(t, "AllocateEipAddress")
	srv := newVerifyServer(t, func(w http.ResponseWriter, r *http.Request, params url.Values) {
		_ = rpc.WriteSuccess(w, rpc.JSON, op.XMLRoot(), op.SuccessSchema().Value, ex)
	})
	host := strings.TrimPrefix(srv.URL, "http://")
	client := sdkClient(t)

	for _, method := range []string{requests.GET, requests.POST} {
		for _, tc := range sdkCases {
			if method == requests.GET && len(tc.form) > 0 {
				continue // see TestSDKGetWithFormParams
			}
			t.Run(method+"/"+tc.name, func(t *testing.T) {
				req := requests.NewCommonRequest()
				req.Method, req.Scheme, req.Domain = method, "http", host
				req.Product, req.Version, req.ApiName = op.Product, op.Version, op.Action
				for k, v := range tc.query {
					req.QueryParams[k] = v
				}
				for k, v := range tc.form {
					req.FormParams[k] = v
				}
				if _, err := client.ProcessCommonRequest(req); err != nil {
					t.Fatalf("SDK ProcessCommonRequest = %v", err)
				}
				c := srv.last(t)
				if c.readErr != nil {
					t.Fatalf("ReadParams(SDK %s request) = %v\nquery %q body %q", method, c.readErr, c.rawQuery, c.body)
				}
				if c.method != method {
					t.Errorf("the SDK sent %s, want %s", c.method, method)
				}
				if !c.ok {
					t.Fatalf("Verify(SDK %s request) = false, want true\nquery %q\nbody %q\nour string to sign %s", method, c.rawQuery, c.body, c.stringToSig)
				}
				for k, v := range tc.form {
					if got := c.params.Get(k); got != v {
						t.Errorf("ReadParams gave %s = %q, want the form's %q", k, got, v)
					}
				}
				if _, present := c.params["SignatureType"]; !present {
					t.Errorf("the SDK sent no SignatureType; this test expects its empty SignatureType=")
				}
				for name := range c.params {
					if name == rpc.ParamSignature {
						continue
					}
					tampered := with(c.params, func(p url.Values) { p.Set(name, p.Get(name)+"x") })
					if ok, _ := rpc.Verify(method, tampered, secret); ok {
						t.Errorf("Verify(SDK %s request with %s changed) = true, want false", method, name)
					}
				}
			})
		}
	}

	t.Run("typed request", func(t *testing.T) {
		req := vpc.CreateAllocateEipAddressRequest()
		req.Scheme, req.Domain = "http", host
		req.Name, req.Description, req.Bandwidth = "名字 *~", "a+b=c&d/e%f", "5"
		resp, err := client.AllocateEipAddress(req)
		if err != nil {
			t.Fatalf("SDK AllocateEipAddress = %v", err)
		}
		if c := srv.last(t); !c.ok {
			t.Fatalf("Verify(SDK AllocateEipAddress request) = false\nquery %q\nbody %q", c.rawQuery, c.body)
		}
		if want := ex.(map[string]any)["AllocationId"]; resp.AllocationId != want {
			t.Errorf("SDK read AllocationId %q from WriteSuccess JSON, want %q", resp.AllocationId, want)
		}
	})
}

// TestSDKGetWithFormParams pins a quirk of the Go SDK: a GET request with form parameters
// sends them as a GET body and signs them, but a GET's body is not a parameter source (ReadParams
// ignores it, as HTTP servers do), so the signature cannot verify.
func TestSDKGetWithFormParams(t *testing.T) {
	op, ex := example(t, "AllocateEipAddress")
	srv := newVerifyServer(t, func(w http.ResponseWriter, r *http.Request, params url.Values) {
		_ = rpc.WriteSuccess(w, rpc.JSON, op.XMLRoot(), op.SuccessSchema().Value, ex)
	})
	req := requests.NewCommonRequest()
	req.Method, req.Scheme, req.Domain = requests.GET, "http", strings.TrimPrefix(srv.URL, "http://")
	req.Product, req.Version, req.ApiName = op.Product, op.Version, op.Action
	req.FormParams["Description"] = "in a GET body"
	if _, err := sdkClient(t).ProcessCommonRequest(req); err != nil {
		t.Fatalf("SDK ProcessCommonRequest = %v", err)
	}
	c := srv.last(t)
	if c.body != "Description=in+a+GET+body" {
		t.Errorf("the SDK sent the GET body %q, want Description=in+a+GET+body (did the SDK change?)", c.body)
	}
	if _, present := c.params["Description"]; present || c.ok {
		t.Errorf("ReadParams read a GET body (Description present: %v) or Verify accepted it (%v); want neither", present, c.ok)
	}
}

// TestSDKReadsOurBodies checks what the Go SDK makes of WriteSuccess and WriteError: success
// bodies in both formats fill its typed responses; JSON error bodies fill its ServerError. XML
// error bodies do not: the SDK only parses JSON errors, so it reports an empty ErrorCode and
// the whole XML text as the Message.
func TestSDKReadsOurBodies(t *testing.T) {
	op, ex := example(t, "DescribeEipAddresses")
	var mu sync.Mutex
	var answer func(w http.ResponseWriter, format rpc.Format)
	srv := newVerifyServer(t, func(w http.ResponseWriter, r *http.Request, params url.Values) {
		format, _ := rpc.ParseFormat(params.Get(rpc.ParamFormat), rpc.DefaultFormat())
		mu.Lock()
		defer mu.Unlock()
		answer(w, format)
	})
	client := sdkClient(t)
	call := func(t *testing.T, format string, a func(w http.ResponseWriter, format rpc.Format)) (*vpc.DescribeEipAddressesResponse, error) {
		t.Helper()
		mu.Lock()
		answer = a
		mu.Unlock()
		req := vpc.CreateDescribeEipAddressesRequest()
		req.Scheme, req.Domain, req.AcceptFormat = "http", strings.TrimPrefix(srv.URL, "http://"), format
		return client.DescribeEipAddresses(req)
	}

	for _, format := range []rpc.Format{rpc.JSON, rpc.XML} {
		t.Run("success/"+string(format), func(t *testing.T) {
			resp, err := call(t, string(format), func(w http.ResponseWriter, f rpc.Format) {
				if err := rpc.WriteSuccess(w, f, op.XMLRoot(), op.SuccessSchema().Value, ex); err != nil {
					t.Errorf("WriteSuccess = %v", err)
				}
			})
			if err != nil {
				t.Fatalf("SDK DescribeEipAddresses (%s) = %v", format, err)
			}
			if resp.TotalCount != 1 || len(resp.EipAddresses.EipAddress) != 1 {
				t.Fatalf("SDK read TotalCount %d and %d EipAddress from our %s; want 1 and 1\nbody: %s", resp.TotalCount, len(resp.EipAddresses.EipAddress), format, resp.GetHttpContentString())
			}
			eip := resp.EipAddresses.EipAddress[0]
			if eip.AllocationId != "eip-2ze88m67qx5zxxxxx" || !cmp.Equal(eip.AvailableRegions.AvailableRegion, []string{"cn-beijing"}) {
				t.Errorf("SDK read AllocationId %q, AvailableRegions %v from our %s; want eip-2ze88m67qx5zxxxxx, [cn-beijing]", eip.AllocationId, eip.AvailableRegions.AvailableRegion, format)
			}
		})
	}

	status, body, ok := rpc.ProtocolErrorBody(spec.ErrMissingParameter, "req-1", "RegionId")
	if !ok {
		t.Fatalf("the spec has no %s protocol error", spec.ErrMissingParameter)
	}
	body.HostId, body.Recommend = "host-1", "https://api.aliyun.com/troubleshoot"
	writeErr := func(w http.ResponseWriter, f rpc.Format) { rpc.WriteError(w, f, status, body) }

	t.Run("error/JSON", func(t *testing.T) {
		_, err := call(t, "JSON", writeErr)
		var se *sdkerrors.ServerError
		if !errors.As(err, &se) {
			t.Fatalf("SDK returned %v (%T), want a *errors.ServerError", err, err)
		}
		got := rpc.ErrorBody{RequestId: se.RequestId(), HostId: se.HostId(), Code: se.ErrorCode(), Message: se.Message(), Recommend: se.Recommend()}
		if diff := cmp.Diff(body, got); diff != "" {
			t.Errorf("SDK ServerError from our JSON error mismatch (-want +got):\n%s", diff)
		}
		if se.HttpStatus() != status {
			t.Errorf("SDK ServerError status %d, want %d", se.HttpStatus(), status)
		}
	})
	t.Run("error/XML is opaque to the SDK", func(t *testing.T) {
		_, err := call(t, "XML", writeErr)
		var se *sdkerrors.ServerError
		if !errors.As(err, &se) {
			t.Fatalf("SDK returned %v (%T), want a *errors.ServerError", err, err)
		}
		if se.ErrorCode() != "" || !strings.HasPrefix(se.Message(), "<?xml") {
			t.Errorf("SDK ServerError from an XML error: ErrorCode %q, Message %q; want \"\" and the raw XML (the SDK parses JSON errors only; did it change?)", se.ErrorCode(), se.Message())
		}
		// Our decoder reads it.
		e, err := rpc.DecodeError(rpc.XML, []byte(se.Message()))
		if err != nil || e != body {
			t.Errorf("DecodeError(XML, our XML error) = %+v, %v; want %+v, nil", e, err, body)
		}
	})
}

// TestSDKPanicsOnNumericCode pins why DecodeError tolerates a numeric Code: the Go SDK's
// ServerError type-asserts Code to a string and panics.
func TestSDKPanicsOnNumericCode(t *testing.T) {
	panicked := func() (p bool) {
		defer func() { p = recover() != nil }()
		sdkerrors.NewServerError(400, `{"RequestId":"r","Code":400,"Message":"m"}`, "")
		return false
	}()
	if !panicked {
		t.Errorf(`SDK errors.NewServerError(400, {"Code":400}) did not panic; DecodeError's tolerance is still needed for other clients, but update this note`)
	}
	e, err := rpc.DecodeError(rpc.JSON, []byte(`{"RequestId":"r","Code":400,"Message":"m"}`))
	if e.Code != "400" || err == nil {
		t.Errorf(`DecodeError({"Code":400}) = %+v, %v; want Code "400" and an error saying Code is a number`, e, err)
	}
}

// TestSDKAgreesOnStringToSign uses the Go SDK's own diagnosis: on SignatureDoesNotMatch it
// compares the server's string to sign, quoted in the message, with its own, and recommends
// checking the AccessKeySecret only when they are equal. Our server verifies with another
// secret and answers with the spec's signature-mismatch error quoting Verify's string to sign,
// so the SDK must blame the secret, for every parameter set, GET and POST.
func TestSDKAgreesOnStringToSign(t *testing.T) {
	_, secret := testKey()
	op := spec.Default().Operation("AllocateEipAddress")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		params, err := rpc.ReadParams(r, 0)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if ok, stringToSign := rpc.Verify(r.Method, params, "not-"+secret); !ok {
			status, body, _ := rpc.ProtocolErrorBody(spec.ErrSignatureMismatch, "req-1", stringToSign)
			rpc.WriteError(w, rpc.JSON, status, body)
			return
		}
		http.Error(w, "verified with the wrong secret", http.StatusInternalServerError)
	}))
	defer srv.Close()
	client := sdkClient(t)
	for _, method := range []string{requests.GET, requests.POST} {
		for _, tc := range sdkCases {
			if method == requests.GET && len(tc.form) > 0 {
				continue // see TestSDKGetWithFormParams
			}
			t.Run(method+"/"+tc.name, func(t *testing.T) {
				req := requests.NewCommonRequest()
				req.Method, req.Scheme, req.Domain = method, "http", strings.TrimPrefix(srv.URL, "http://")
				req.Product, req.Version, req.ApiName = op.Product, op.Version, op.Action
				for k, v := range tc.query {
					req.QueryParams[k] = v
				}
				for k, v := range tc.form {
					req.FormParams[k] = v
				}
				_, err := client.ProcessCommonRequest(req)
				var se *sdkerrors.ServerError
				if !errors.As(err, &se) {
					t.Fatalf("SDK returned %v (%T), want a *errors.ServerError", err, err)
				}
				if !strings.HasPrefix(se.Recommend(), "InvalidAccessKeySecret") {
					t.Errorf("the SDK's string to sign differs from the one Verify quoted: SDK recommends %q\nSDK string to sign: %s\nmessage: %s", se.Recommend(), req.GetStringToSign(), se.Message())
				}
			})
		}
	}
}

// FuzzSignSDK signs any parameters, in the query and in the form, GET and POST, with any
// secret, with the Go SDK's own signer (auth.Sign), and checks that StringToSign and Sign agree
// with the SDK's exactly, that Verify accepts the SDK's signature and refuses it with another
// secret, and that the request as the SDK puts it on the wire (its query string and form
// body), read back with ReadParams, still verifies.
//
//	go test -run '^$' -fuzz '^FuzzSignSDK$' -fuzztime 30s -parallel 1 ./internal/rpc
func FuzzSignSDK(f *testing.F) {
	id, secret := testKey()
	for _, tc := range sdkCases {
		for _, post := range []bool{false, true} {
			qName, fName := "", ""
			if names := slices.Sorted(maps.Keys(tc.query)); len(names) > 0 {
				qName = names[0]
			}
			if names := slices.Sorted(maps.Keys(tc.form)); len(names) > 0 {
				fName = names[len(names)-1]
			}
			f.Add(post, qName, tc.query[qName], fName, tc.form[fName], secret)
		}
	}
	f.Add(true, "Signature", "forged", "Timestamp", "2016-02-23T12:46:24Z", "s&=+ *")
	f.Add(false, "", "", "", "", "")
	f.Add(true, "名\xff", "\x00\xff%zz+", "RegionId", "cn-beijing", "\xff")
	f.Add(true, "Name", "query", "Name", "form wins", "x")
	op := spec.Default().Operation("AllocateEipAddress")
	f.Fuzz(func(t *testing.T, post bool, qName, qValue, fName, fValue, secret string) {
		if fName == rpc.ParamSignature {
			return // the SDK signs a form parameter named Signature; servers and we leave it out
		}
		method := http.MethodGet
		if post {
			method = http.MethodPost
		}
		var form map[string]string
		if post {
			form = map[string]string{fName: fValue} // a GET's form would go in a body no server reads
		}
		req, params := sdkSign(t, op, method, map[string]string{qName: qValue}, form, id, secret)
		what := fmt.Sprintf("%s %v secret %q", method, params, secret)
		if diff := cmp.Diff(req.GetStringToSign(), rpc.StringToSign(method, params)); diff != "" {
			t.Fatalf("StringToSign(%s) differs from the SDK's (-sdk +ours):\n%s", what, diff)
		}
		sdkSignature := req.GetQueryParams()[rpc.ParamSignature]
		if got := rpc.Sign(method, params, secret); got != sdkSignature {
			t.Fatalf("Sign(%s) = %q; the SDK signed %q", what, got, sdkSignature)
		}
		if ok, sts := rpc.Verify(method, params, secret); !ok {
			t.Fatalf("Verify(%s) = false, want true; our string to sign %q", what, sts)
		}
		if ok, _ := rpc.Verify(method, params, secret+"x"); ok {
			t.Fatalf("Verify(%s) with the secret %q = true, want false", what, secret+"x")
		}

		// On the wire: the SDK's query string and form body, read back as a server reads them.
		body, err := io.ReadAll(req.GetBodyReader())
		if err != nil {
			t.Fatalf("SDK GetBodyReader: %v", err)
		}
		r := &http.Request{
			Method: method, URL: &url.URL{Path: "/", RawQuery: strings.TrimPrefix(req.BuildQueries(), "/?")},
			Header: http.Header{"Content-Type": {requests.Form}}, Body: io.NopCloser(bytes.NewReader(body)),
		}
		got, err := rpc.ReadParams(r, 0)
		if err != nil {
			t.Fatalf("ReadParams(the SDK's %s ?%s, body %q) = %v", method, r.URL.RawQuery, body, err)
		}
		if ok, sts := rpc.Verify(method, got, secret); !ok {
			t.Fatalf("Verify(the SDK's %s ?%s, body %q, read as %v) = false, want true; our string to sign %q", method, r.URL.RawQuery, body, got, sts)
		}
	})
}

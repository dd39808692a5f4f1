// Package fuzz runs Go's native fuzzing against an RPC-style EIP endpoint and judges every
// answer with the contract's oracle: one fuzz target per operation, whose arguments are the
// operation's parameters as strings, so the engine can send any value.
//
// Typical usage, from an emulator author's own test file (the corpus then lives in their
// package, under testdata/fuzz/FuzzAllocateEipAddress):
//
//	func FuzzAllocateEipAddress(f *testing.F) {
//		fuzz.Operation(f, fuzz.Target{New: func() (http.Handler, error) {
//			return myemulator.New(), nil // any http.Handler, in its initial state
//		}}, "AllocateEipAddress")
//	}
//
// and then
//
//	go test -run '^$' -fuzz '^FuzzAllocateEipAddress$' -fuzztime 30s -parallel 1 .
//
// Plain go test runs the seeds only: the documents' sample requests, the operation's minimal
// request and every boundary case the spec enumerates (spec.Operation.Cases), plus the
// package's testdata/fuzz corpus, where every crasher the engine finds is written.
//
// Each input is sent to the Target and the answer is judged by Check, a differential oracle:
// the spec's verdict for the parameters must match the endpoint's (accept or reject, and the
// status and Code where the documents name them); no 5xx unless the spec maps the case to
// one; no error Code the spec does not know; success bodies that decode and validate against
// the operation's response schema; no panic and no hang.
//
// FromEnv points the same targets at another endpoint on loopback, so that the fuzz targets
// of this repository (go test ./fuzz) also test a server in another process or language:
//
//	EIPCONFORM_FUZZ_ENDPOINT=http://127.0.0.1:8080 \
//	ALIBABA_CLOUD_ACCESS_KEY_ID=testid ALIBABA_CLOUD_ACCESS_KEY_SECRET=testsecret \
//	go test -run '^$' -fuzz '^FuzzReleaseEipAddress$' -fuzztime 30s -parallel 1 ./fuzz
package fuzz

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Environment variables FromEnv reads.
const (
	envEndpoint  = "EIPCONFORM_FUZZ_ENDPOINT"
	envKeyID     = "ALIBABA_CLOUD_ACCESS_KEY_ID"
	envKeySecret = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
)

// Defaults of a Target's limits.
const (
	defaultTimeout = 10 * time.Second
	defaultMaxBody = 4 << 20 // rpc.DefaultMaxBody
)

// Target is the endpoint the fuzz targets send their requests to: exactly one of Handler, New
// and URL.
//
//	fuzz.Target{New: func() (http.Handler, error) { return myemulator.New(), nil }} // in-process, reset as needed
//	fuzz.Target{URL: "http://127.0.0.1:8080", AccessKeyID: "testid", AccessKeySecret: "testsecret"}
type Target struct {
	// Handler is an in-process endpoint, called directly (no network). Its state carries over
	// from input to input: an answer that depends on earlier inputs (an EIP quota used up,
	// say) is accepted when it is one of the operation's state errors.
	Handler http.Handler
	// New makes a fresh in-process endpoint in its initial state. Operation makes one before
	// the first input and again after every input that may have changed the state (a success
	// of an operation the spec marks as mutating), so every input meets the same state and
	// every failure reproduces from its input alone.
	New func() (http.Handler, error)
	// URL is an endpoint in another process, on loopback only (127.0.0.0/8, ::1, localhost),
	// e.g. "http://127.0.0.1:8080". Its state carries over, as Handler's.
	URL string
	// AccessKeyID and AccessKeySecret sign every request (signature v1.0); the oracle then
	// expects the endpoint to authenticate. With an empty AccessKeyID requests are unsigned,
	// for endpoints that do not authenticate.
	AccessKeyID, AccessKeySecret string
	// Timeout bounds each request, answer included; 0 means 10 s. An in-process handler that
	// takes longer is reported as hanging.
	Timeout time.Duration
	// MaxBody caps an answer's body; 0 means 4 MiB. A larger answer is a failure.
	MaxBody int64
}

// String describes the target without its secret, e.g. "http://127.0.0.1:8080 (signed as testid)".
func (t Target) String() string {
	var s string
	switch {
	case t.URL != "":
		s = t.URL
	case t.New != nil:
		s = "in-process handler (fresh after each state change)"
	case t.Handler != nil:
		s = fmt.Sprintf("in-process handler %T", t.Handler)
	default:
		s = "no target"
	}
	if t.AccessKeyID != "" {
		return s + " (signed as " + t.AccessKeyID + ")"
	}
	return s + " (unsigned)"
}

// GoString is String, so that %#v does not print the secret either.
func (t Target) GoString() string { return "fuzz.Target{" + t.String() + "}" }

// validate checks that the target names exactly one endpoint and a loopback URL.
func (t Target) validate() error {
	n := 0
	for _, set := range []bool{t.Handler != nil, t.New != nil, t.URL != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("fuzz: the target sets %d of Handler, New and URL; want exactly one", n)
	}
	if t.AccessKeyID == "" && t.AccessKeySecret != "" {
		return errors.New("fuzz: the target has an AccessKeySecret but no AccessKeyID; want both, or neither for unsigned requests")
	}
	if t.Timeout < 0 || t.MaxBody < 0 {
		return fmt.Errorf("fuzz: the target's Timeout (%v) and MaxBody (%d) must not be negative", t.Timeout, t.MaxBody)
	}
	if t.URL != "" {
		return checkLoopback(t.URL)
	}
	return nil
}

func (t Target) timeout() time.Duration {
	if t.Timeout > 0 {
		return t.Timeout
	}
	return defaultTimeout
}

func (t Target) maxBody() int64 {
	if t.MaxBody > 0 {
		return t.MaxBody
	}
	return defaultMaxBody
}

// checkLoopback accepts http and https URLs whose host is a loopback address or localhost:
// fuzzing sends requests that create, change and release resources with arbitrary
// parameters, which no real account should receive.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("fuzz: endpoint %q: %v; want a URL such as http://127.0.0.1:8080", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("fuzz: endpoint %q: scheme %q; want http or https, e.g. http://127.0.0.1:8080", raw, u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("fuzz: endpoint %q has no host; want e.g. http://127.0.0.1:8080", raw)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("fuzz: endpoint %q: host %q is not a loopback address; fuzzing sends arbitrary requests that create and release resources, so only 127.0.0.0/8, ::1 and localhost are allowed", raw, host)
}

// FromEnv returns the target the environment names, or def when EIPCONFORM_FUZZ_ENDPOINT is
// unset or empty. EIPCONFORM_FUZZ_ENDPOINT is the endpoint's URL, on loopback only;
// ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, when set, sign the requests
// (unset: unsigned requests). def's Timeout and MaxBody carry over.
//
//	target, err := fuzz.FromEnv(fuzz.Target{New: newEmulator})
//	if err != nil {
//		f.Fatal(err)
//	}
//	fuzz.Operation(f, target, "ReleaseEipAddress")
func FromEnv(def Target) (Target, error) {
	endpoint := os.Getenv(envEndpoint)
	if endpoint == "" {
		return def, nil
	}
	t := Target{
		URL:         endpoint,
		AccessKeyID: os.Getenv(envKeyID), AccessKeySecret: os.Getenv(envKeySecret),
		Timeout: def.Timeout, MaxBody: def.MaxBody,
	}
	if err := checkLoopback(endpoint); err != nil {
		return Target{}, fmt.Errorf("%s: %w", envEndpoint, err)
	}
	if (t.AccessKeyID == "") != (t.AccessKeySecret == "") {
		return Target{}, fmt.Errorf("fuzz: %s and %s: one is set and the other is not; set both to sign, or neither for unsigned requests", envKeyID, envKeySecret)
	}
	return t, nil
}

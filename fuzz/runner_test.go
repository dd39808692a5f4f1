package fuzz

import (
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eipconform/eipconform/emulator"
	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
)

// newEmulator returns an emulator without authentication on a fixed clock.
func newEmulator() (http.Handler, error) {
	return emulator.New(emulator.Options{NoAuth: true, Now: fixedNow})
}

func fixedNow() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) }

// newRunner returns Operation's runner for action against target.
func newRunner(t *testing.T, target Target, action string) *runner {
	t.Helper()
	if err := target.validate(); err != nil {
		t.Fatal(err)
	}
	sh, err := shapeFor(action)
	if err != nil {
		t.Fatal(err)
	}
	r := &runner{target: target, sh: sh, oracle: oracleFor(sh.op), auth: target.AccessKeyID != ""}
	t.Cleanup(r.close)
	return r
}

// argsOf returns the fuzz arguments of p, failing on anything they cannot express.
func argsOf(t *testing.T, action string, p url.Values) []string {
	t.Helper()
	sh, err := shapeFor(action)
	if err != nil {
		t.Fatal(err)
	}
	args, lost := sh.args(p)
	if len(lost) > 0 {
		t.Fatalf("test bug: %v: the arguments cannot express %v", p, lost)
	}
	return args
}

// broken wraps the emulator: for requests that match, it answers with answer instead.
func broken(match func(url.Values) bool, answer func(w http.ResponseWriter)) func() (http.Handler, error) {
	return func() (http.Handler, error) {
		emu, err := newEmulator()
		if err != nil {
			return nil, err
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			params, err := rpc.ReadParams(r, 0)
			if err == nil && match(params) {
				answer(w)
				return
			}
			emu.ServeHTTP(w, r)
		}), nil
	}
}

func always(url.Values) bool { return true }

// TestRunnerCatchesBrokenHandlers sends one input through Operation's machinery to handlers
// that are wrong in one way each; every one must fail, with a message saying how.
func TestRunnerCatchesBrokenHandlers(t *testing.T) {
	op := spec.Default().Operation("AllocateEipAddress")
	example := op.Examples[0].Value
	valid := op.BaseRequest()
	tooWide := op.BaseRequest()
	tooWide.Set("Bandwidth", "501")
	tests := []struct {
		name    string
		handler func() (http.Handler, error)
		input   url.Values
		want    string // a part of the error; "" for none
	}{
		{"the emulator, valid", newEmulator, valid, ""},
		{"the emulator, rejected", newEmulator, tooWide, ""},
		{"200 to everything", broken(always, func(w http.ResponseWriter) {
			_ = rpc.WriteSuccess(w, rpc.JSON, op.XMLRoot(), op.SuccessSchema().Value, example)
		}), tooWide, "accepted what the contract rejects"},
		{"500 to everything", broken(always, func(w http.ResponseWriter) {
			rpc.WriteError(w, rpc.JSON, 500, rpc.ErrorBody{RequestId: "r", Code: "InternalError", Message: "m"})
		}), valid, "a 5xx the contract does not map this request to: got 500 InternalError"},
		{"an unknown Code", broken(always, func(w http.ResponseWriter) {
			rpc.WriteError(w, rpc.JSON, 400, rpc.ErrorBody{RequestId: "r", Code: "Made.Up", Message: "m"})
		}), tooWide, "an error the spec does not know for AllocateEipAddress: got 400 Made.Up"},
		{"a schema-invalid success body", broken(always, func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", rpc.JSONContentType)
			_, _ = w.Write([]byte(`{"RequestId":["r"],"AllocationId":"eip-1"}`))
		}), valid, "does not match the response schema"},
		{"a panic", broken(always, func(w http.ResponseWriter) { panic("boom") }), valid, "the handler panicked: boom"},
		{"an answer over MaxBody", broken(always, func(w http.ResponseWriter) {
			_, _ = w.Write([]byte(strings.Repeat(" ", defaultMaxBody+1)))
		}), valid, "an answer larger than the target's MaxBody"},
		{"an invalid status", broken(always, func(w http.ResponseWriter) { w.WriteHeader(1000) }), valid, "the HTTP status 1000"},
		{"nothing written", broken(always, func(w http.ResponseWriter) {}), valid, "the success body does not decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRunner(t, Target{New: tt.handler}, op.Action)
			err := r.do(argsOf(t, op.Action, tt.input))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("%s: do(%v) = %v, want nil", tt.name, tt.input, err)
			case tt.want != "" && err == nil:
				t.Errorf("%s: do(%v) = nil, want an error containing %q", tt.name, tt.input, tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("%s: do(%v) = %v\nwant an error containing %q", tt.name, tt.input, err, tt.want)
			}
		})
	}
}

// TestRunnerResets checks that a success of a mutating operation gives the next input a fresh
// handler (so the quota is never used up) and that other answers keep the handler.
func TestRunnerResets(t *testing.T) {
	made := 0
	target := Target{New: func() (http.Handler, error) { made++; return newEmulator() }}
	r := newRunner(t, target, "AllocateEipAddress")
	valid := argsOf(t, "AllocateEipAddress", spec.Default().Operation("AllocateEipAddress").BaseRequest())
	quota := 0
	for _, region := range emulator.DefaultWorld().Regions {
		quota += region.EipQuota
	}
	for i := range quota + 5 {
		if err := r.do(valid); err != nil {
			t.Fatalf("input %d: %v", i, err)
		}
	}
	if made != quota+5 {
		t.Errorf("%d successful allocations made %d handlers, want one each", quota+5, made)
	}

	made = 0
	r = newRunner(t, target, "ReleaseEipAddress")
	release := argsOf(t, "ReleaseEipAddress", spec.Default().Operation("ReleaseEipAddress").BaseRequest())
	for i := range 3 {
		if err := r.do(release); err != nil {
			t.Fatalf("input %d: %v", i, err)
		}
	}
	if made != 1 {
		t.Errorf("3 rejected releases made %d handlers, want 1", made)
	}
}

// TestRunnerSigned sends signed requests to an emulator that authenticates, through the
// in-process transport: the oracle then expects authentication. Unsigned requests to it must
// fail with a hint.
func TestRunnerSigned(t *testing.T) {
	sig := spec.Default().Signature
	authenticating := func() (http.Handler, error) { return emulator.New(emulator.Options{}) }
	op := spec.Default().Operation("DescribeEipAddresses")
	args := argsOf(t, op.Action, op.BaseRequest())

	r := newRunner(t, Target{New: authenticating, AccessKeyID: sig.ExampleAccessKeyID, AccessKeySecret: sig.ExampleAccessKeySecret}, op.Action)
	for i := range 3 {
		if err := r.do(args); err != nil {
			t.Fatalf("signed input %d: %v", i, err)
		}
	}
	r = newRunner(t, Target{New: authenticating, AccessKeyID: sig.ExampleAccessKeyID, AccessKeySecret: "not-" + sig.ExampleAccessKeySecret}, op.Action)
	if err := r.do(args); err == nil || !strings.Contains(err.Error(), "rejected what the contract accepts") {
		t.Errorf("input signed with the wrong secret: do = %v, want a rejection the contract does not expect", err)
	} else if strings.Contains(err.Error(), sig.ExampleAccessKeySecret) {
		t.Errorf("the message names the secret:\n%v", err)
	}
	r = newRunner(t, Target{New: authenticating}, op.Action)
	if err := r.do(args); err == nil || !strings.Contains(err.Error(), "does the endpoint authenticate") {
		t.Errorf("unsigned input to an authenticating endpoint: do = %v, want the authentication hint", err)
	}
}

// TestRunnerHang runs a hanging handler in a child process: the watchdog must stop it with a
// message naming the request, and the goroutine of the hung handler in the dump.
func TestRunnerHang(t *testing.T) {
	if os.Getenv("EIPCONFORM_FUZZ_TEST_HANG") == "1" {
		r := newRunner(t, Target{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { select {} }), Timeout: 50 * time.Millisecond}, "ReleaseEipAddress")
		_ = r.do(argsOf(t, "ReleaseEipAddress", spec.Default().Operation("ReleaseEipAddress").BaseRequest()))
		t.Fatal("do returned from a hanging handler")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunnerHang$")
	cmd.Env = append(os.Environ(), "EIPCONFORM_FUZZ_TEST_HANG=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the child with a hanging handler exited 0; want a failure\n%s", out)
	}
	for _, want := range []string{
		"fuzz: ReleaseEipAddress [AllocationId=eip-25877c70gddh0000 RegionId=cn-hangzhou]: no answer within the target's Timeout (50ms): the handler hangs",
		"fuzz.TestRunnerHang.func",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the hanging child's output lacks %q:\n%s", want, out)
		}
	}
}

func TestTargetValidate(t *testing.T) {
	h := http.NotFoundHandler()
	tests := []struct {
		name   string
		target Target
		want   string // a part of the error; "" for none
	}{
		{"handler", Target{Handler: h}, ""},
		{"new", Target{New: newEmulator}, ""},
		{"loopback", Target{URL: "http://127.0.0.1:8080"}, ""},
		{"loopback v6", Target{URL: "http://[::1]:8080"}, ""},
		{"localhost", Target{URL: "https://localhost"}, ""},
		{"127/8", Target{URL: "http://127.1.2.3:1"}, ""},
		{"none", Target{}, "sets 0 of Handler, New and URL; want exactly one"},
		{"two", Target{Handler: h, URL: "http://127.0.0.1"}, "sets 2 of Handler, New and URL"},
		{"remote", Target{URL: "https://vpc.aliyuncs.com"}, `host "vpc.aliyuncs.com" is not a loopback address`},
		{"private", Target{URL: "http://10.0.0.1:8080"}, "not a loopback address"},
		{"loopback-looking name", Target{URL: "http://127.0.0.1.example.com"}, "not a loopback address"},
		{"scheme", Target{URL: "ftp://127.0.0.1"}, `scheme "ftp"; want http or https`},
		{"no host", Target{URL: "http:///x"}, "has no host"},
		{"malformed", Target{URL: "http://[::1"}, "want a URL such as"},
		{"secret without key", Target{Handler: h, AccessKeySecret: "s"}, "AccessKeySecret but no AccessKeyID"},
		{"negative timeout", Target{Handler: h, Timeout: -1}, "must not be negative"},
	}
	for _, tt := range tests {
		err := tt.target.validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v.validate() = %v, want nil", tt.name, tt.target, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: %v.validate() = %v, want an error containing %q", tt.name, tt.target, err, tt.want)
		}
	}
}

func TestFromEnv(t *testing.T) {
	def := Target{New: newEmulator, Timeout: time.Second}
	tests := []struct {
		name             string
		endpoint, id, sk string
		want             Target // compared by String, Timeout and key
		wantErr          string
	}{
		{name: "unset", want: def},
		{name: "loopback unsigned", endpoint: "http://127.0.0.1:8080", want: Target{URL: "http://127.0.0.1:8080", Timeout: time.Second}},
		{name: "loopback signed", endpoint: "http://127.0.0.1:8080", id: "testid", sk: "testsecret", want: Target{URL: "http://127.0.0.1:8080", AccessKeyID: "testid", AccessKeySecret: "testsecret", Timeout: time.Second}},
		{name: "remote", endpoint: "https://vpc.aliyuncs.com", wantErr: "EIPCONFORM_FUZZ_ENDPOINT: fuzz: endpoint \"https://vpc.aliyuncs.com\": host \"vpc.aliyuncs.com\" is not a loopback address"},
		{name: "half a key", endpoint: "http://127.0.0.1:8080", id: "testid", wantErr: "one is set and the other is not"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envEndpoint, tt.endpoint)
			t.Setenv(envKeyID, tt.id)
			t.Setenv(envKeySecret, tt.sk)
			got, err := FromEnv(def)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("FromEnv = %v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "testsecret") {
					t.Errorf("FromEnv's error names the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("FromEnv = %v", err)
			}
			type view struct {
				S, ID, Secret string
				Timeout       time.Duration
			}
			if diff := cmp.Diff(view{tt.want.String(), tt.want.AccessKeyID, tt.want.AccessKeySecret, tt.want.Timeout}, view{got.String(), got.AccessKeyID, got.AccessKeySecret, got.Timeout}); diff != "" {
				t.Errorf("FromEnv mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTargetStringHidesSecret checks that printing a target never prints its secret.
func TestTargetStringHidesSecret(t *testing.T) {
	tg := Target{URL: "http://127.0.0.1:8080", AccessKeyID: "testid", AccessKeySecret: "topsecret"}
	for _, s := range []string{tg.String(), tg.GoString()} {
		if strings.Contains(s, "topsecret") || !strings.Contains(s, "testid") {
			t.Errorf("Target printed as %q; want the key ID and not the secret", s)
		}
	}
}

// TestArgsRoundTrip checks that the arguments of a request stand for that request: for every
// boundary case, request(args(case)) is the case (Version aside, which is fixed, and empty
// values, which mean absent).
func TestArgsRoundTrip(t *testing.T) {
	for _, op := range spec.Default().Operations {
		sh, err := shapeFor(op.Action)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range op.Cases() {
			want := url.Values{}
			for k, v := range c.Params {
				if v[0] != "" {
					want[k] = v
				}
			}
			want.Set(rpc.ParamVersion, op.Version)
			args, lost := sh.args(want)
			if len(lost) > 0 {
				t.Errorf("%s case %s: the arguments cannot express %v", op.Action, c.Name, lost)
				continue
			}
			if diff := cmp.Diff(want, sh.request(args)); diff != "" {
				t.Errorf("%s case %s: request(args(case)) mismatch (-want +got):\n%s", op.Action, c.Name, diff)
			}
		}
	}
}

package emulator_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/eipconform/eipconform/emulator"
	"github.com/eipconform/eipconform/spec"
)

// opErrorRef returns the (status, code) the operation's error table gives code (its first
// row with that code).
func opErrorRef(t testing.TB, action, code string) spec.ErrorRef {
	t.Helper()
	e, ok := opOf(action).Error(code)
	if !ok {
		t.Fatalf("test bug: %s does not list %s", action, code)
	}
	return spec.ErrorRef{Status: e.Status, Code: e.Code}
}

// faultEnv is a server and a signer for the fault tests.
type faultEnv struct {
	t   *testing.T
	srv *emulator.Server
	s   *signer
}

func newFaultEnv(t *testing.T) *faultEnv {
	srv, c := newServer(t, emulator.Options{})
	return &faultEnv{t: t, srv: srv, s: exampleSigner(c)}
}

func (e *faultEnv) call(action string, kv ...string) answer {
	return send(e.srv, http.MethodPost, e.s.sign(http.MethodPost, request(action, kv...)))
}

func (e *faultEnv) inject(f emulator.Fault) {
	e.t.Helper()
	if err := e.srv.InjectFault(f); err != nil {
		e.t.Fatalf("InjectFault(%+v): %v", f, err)
	}
}

// listFaults returns the control channel's list.
func (e *faultEnv) listFaults() []emulator.Fault {
	e.t.Helper()
	a := serveOne(e.srv, http.MethodGet, "/_emulator/faults", "", "")
	if a.Status != http.StatusOK {
		e.t.Fatalf("GET /_emulator/faults: %d %s, want 200", a.Status, a.Body)
	}
	var list []emulator.Fault
	if err := json.Unmarshal(a.Body, &list); err != nil {
		e.t.Fatalf("GET /_emulator/faults: %v\nbody: %s", err, a.Body)
	}
	return list
}

var ignoreRNG = cmpopts.IgnoreUnexported(emulator.Fault{})

func TestFaultCount(t *testing.T) {
	e := newFaultEnv(t)
	e.inject(emulator.Fault{Action: "AllocateEipAddress", Code: "QuotaExceeded.Eip", Count: 2})
	quota := opErrorRef(t, "AllocateEipAddress", "QuotaExceeded.Eip")
	ok := spec.ErrorRef{Status: http.StatusOK}
	for i, want := range []spec.ErrorRef{quota, quota, ok, ok} {
		a := e.call("AllocateEipAddress")
		if diff := cmp.Diff(want, a.code()); diff != "" {
			t.Errorf("call %d after a fault with count 2: mismatch (-want +got):\n%s\nbody: %s", i+1, diff, a.Body)
		}
		if a.Error != nil && a.ErrorDecode != nil {
			t.Errorf("call %d: error body: %v", i+1, a.ErrorDecode)
		}
	}
	if got := e.listFaults(); len(got) != 0 {
		t.Errorf("after the count ran out, GET /_emulator/faults = %+v, want none", got)
	}
}

func TestFaultOnlyItsAction(t *testing.T) {
	e := newFaultEnv(t)
	e.inject(emulator.Fault{Action: "ReleaseEipAddress", Code: "InternalError", Count: 1})
	for _, action := range []string{"AllocateEipAddress", "DescribeEipAddresses", "OpenVpcIpamService"} {
		if a := e.call(action); a.Status != http.StatusOK {
			t.Errorf("%s with a fault on ReleaseEipAddress: got %d %s, want 200", action, a.Status, a.Body)
		}
	}
	want := opErrorRef(t, "ReleaseEipAddress", "InternalError")
	if diff := cmp.Diff(want, e.call("ReleaseEipAddress", "AllocationId", "eip-nowhere").code()); diff != "" {
		t.Errorf("ReleaseEipAddress: the fault did not fire first (-want +got):\n%s", diff)
	}
}

func TestFaultEveryAction(t *testing.T) {
	e := newFaultEnv(t)
	e.inject(emulator.Fault{Action: "*", Code: "Throttling", Count: 3})
	throttled := protocolRef(t, spec.ErrThrottling)
	for _, tc := range []struct {
		action string
		kv     []string
		want   spec.ErrorRef
	}{
		{"DescribeEipAddresses", nil, throttled},
		{"AllocatePublicIpAddress", []string{"InstanceId", "i-emu-running-1"}, throttled},
		{"OpenVpcIpamService", nil, throttled},
		{"DescribeEipAddresses", nil, spec.ErrorRef{Status: http.StatusOK}},
	} {
		a := e.call(tc.action, tc.kv...)
		if diff := cmp.Diff(tc.want, a.code()); diff != "" {
			t.Errorf("%s under a fault on every action: mismatch (-want +got):\n%s\nbody: %s", tc.action, diff, a.Body)
		}
	}
}

func TestFaultProbabilityIsSeeded(t *testing.T) {
	pattern := func(seed uint64) string {
		e := newFaultEnv(t)
		e.inject(emulator.Fault{Action: "DescribeEipAddresses", Code: "Throttling", Probability: 0.5, Seed: seed})
		var b strings.Builder
		for range 20 {
			switch a := e.call("DescribeEipAddresses"); a.Status {
			case http.StatusOK:
				b.WriteByte('.')
			default:
				b.WriteByte('x')
			}
		}
		return b.String()
	}
	a, again, other := pattern(7), pattern(7), pattern(8)
	if a != again {
		t.Errorf("probability 0.5, seed 7, twice: patterns %s and %s, want the same", a, again)
	}
	if a == other {
		t.Errorf("probability 0.5: seeds 7 and 8 both give %s, want different patterns", a)
	}
	for seed, p := range map[uint64]string{7: a, 8: other} {
		if !strings.Contains(p, ".") || !strings.Contains(p, "x") {
			t.Errorf("probability 0.5, seed %d: pattern %s over 20 calls, want both failures and successes", seed, p)
		}
	}
}

func TestFaultLatency(t *testing.T) {
	e := newFaultEnv(t)
	const latency = 100 * time.Millisecond
	e.inject(emulator.Fault{Action: "DescribeEipAddresses", Latency: emulator.Duration{Duration: latency}, Count: 1})
	start := time.Now()
	a := e.call("DescribeEipAddresses")
	if took := time.Since(start); took < latency {
		t.Errorf("DescribeEipAddresses with a %s latency fault took %s, want at least %s", latency, took, latency)
	}
	if a.Status != http.StatusOK {
		t.Errorf("a latency-only fault: got %d %s, want 200", a.Status, a.Body)
	}

	e.inject(emulator.Fault{Action: "AllocateEipAddress", Code: "OperationConflict", Latency: emulator.Duration{Duration: latency}, Count: 1})
	start = time.Now()
	a = e.call("AllocateEipAddress")
	if took := time.Since(start); took < latency {
		t.Errorf("AllocateEipAddress with a %s latency and code fault took %s, want at least %s", latency, took, latency)
	}
	if diff := cmp.Diff(opErrorRef(t, "AllocateEipAddress", "OperationConflict"), a.code()); diff != "" {
		t.Errorf("a latency and code fault: mismatch (-want +got):\n%s", diff)
	}
}

func TestInvalidFaults(t *testing.T) {
	ms := func(d time.Duration) emulator.Duration { return emulator.Duration{Duration: d} }
	for _, tc := range []struct {
		name  string
		fault emulator.Fault
		want  []string // substrings of the error
	}{
		{"unknown action", emulator.Fault{Action: "AllocateEverything", Code: "Throttling", Count: 1}, []string{`"AllocateEverything"`}},
		{"empty action", emulator.Fault{Code: "Throttling", Count: 1}, []string{`action ""`}},
		{"code not in the table", emulator.Fault{Action: "AllocateEipAddress", Code: "AllocatedAlready", Count: 1}, []string{"AllocateEipAddress", "AllocatedAlready"}},
		{"code some operations lack, on every action", emulator.Fault{Action: "*", Code: "QuotaExceeded.Eip", Count: 1}, []string{"QuotaExceeded.Eip"}},
		{"status the spec does not give the code", emulator.Fault{Action: "AllocatePublicIpAddress", Code: "AllocatedAlready", Status: 400, Count: 1}, []string{"400", "AllocatedAlready"}},
		{"status 500 for a 400 code", emulator.Fault{Action: "AllocateEipAddress", Code: "QuotaExceeded.Eip", Status: 500, Count: 1}, []string{"500", "QuotaExceeded.Eip"}},
		{"count and probability 0", emulator.Fault{Action: "AllocateEipAddress", Code: "QuotaExceeded.Eip"}, []string{"count", "probability"}},
		{"negative count", emulator.Fault{Action: "AllocateEipAddress", Code: "QuotaExceeded.Eip", Count: -1}, []string{"count -1"}},
		{"probability over 1", emulator.Fault{Action: "AllocateEipAddress", Code: "QuotaExceeded.Eip", Probability: 1.5}, []string{"probability 1.5"}},
		{"neither code nor latency", emulator.Fault{Action: "AllocateEipAddress", Count: 1}, []string{"code", "latency"}},
		{"latency over MaxFaultLatency", emulator.Fault{Action: "AllocateEipAddress", Count: 1, Latency: ms(emulator.MaxFaultLatency + time.Millisecond)}, []string{"latency", emulator.MaxFaultLatency.String()}},
		{"negative latency", emulator.Fault{Action: "AllocateEipAddress", Count: 1, Latency: ms(-time.Second)}, []string{"latency -1s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newFaultEnv(t)
			err := e.srv.InjectFault(tc.fault)
			if err == nil {
				t.Fatalf("InjectFault(%+v) = nil, want an error", tc.fault)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("InjectFault(%+v) = %q, want it to mention %q", tc.fault, err, w)
				}
			}
			if got := e.listFaults(); len(got) != 0 {
				t.Errorf("after a refused fault, GET /_emulator/faults = %+v, want none", got)
			}
		})
	}
}

func TestControlChannel(t *testing.T) {
	e := newFaultEnv(t)
	const path = "/_emulator/faults"
	for _, tc := range []struct {
		name, method, path, body string
		wantStatus               int
		wantBody                 []string // substrings of the body
	}{
		{"valid", http.MethodPost, path, `{"action":"AllocateEipAddress","code":"QuotaExceeded.Eip","count":1}`, http.StatusCreated, nil},
		{"with latency and probability", http.MethodPost, path, `{"action":"DescribeEipAddresses","latency":"1ms","probability":0.25,"seed":3}`, http.StatusCreated, nil},
		{"not JSON", http.MethodPost, path, `action=AllocateEipAddress`, http.StatusBadRequest, []string{"not a fault document"}},
		{"truncated JSON", http.MethodPost, path, `{"action":"AllocateEipAddress",`, http.StatusBadRequest, []string{"not a fault document"}},
		{"unknown field", http.MethodPost, path, `{"action":"AllocateEipAddress","code":"QuotaExceeded.Eip","count":1,"times":3}`, http.StatusBadRequest, []string{`"times"`}},
		{"latency not a duration", http.MethodPost, path, `{"action":"AllocateEipAddress","count":1,"latency":100}`, http.StatusBadRequest, []string{"latency"}},
		{"invalid fault", http.MethodPost, path, `{"action":"AllocateEipAddress","code":"AllocatedAlready","count":1}`, http.StatusBadRequest, []string{"AllocatedAlready"}},
		{"unknown resource", http.MethodGet, "/_emulator/state", "", http.StatusNotFound, []string{path}},
		{"the channel's root", http.MethodGet, "/_emulator/", "", http.StatusNotFound, []string{path}},
		{"below the resource", http.MethodPost, path + "/1", `{"action":"AllocateEipAddress","code":"QuotaExceeded.Eip","count":1}`, http.StatusNotFound, nil},
		{"PUT", http.MethodPut, path, `{"action":"AllocateEipAddress","code":"QuotaExceeded.Eip","count":1}`, http.StatusMethodNotAllowed, nil},
		{"PATCH", http.MethodPatch, path, "", http.StatusMethodNotAllowed, nil},
	} {
		a := serveOne(e.srv, tc.method, tc.path, "application/json", tc.body)
		if a.Status != tc.wantStatus {
			t.Errorf("%s: %s %s %s: status %d, want %d\nbody: %s", tc.name, tc.method, tc.path, tc.body, a.Status, tc.wantStatus, a.Body)
		}
		for _, w := range tc.wantBody {
			if !strings.Contains(string(a.Body), w) {
				t.Errorf("%s: %s %s %s: body %q, want it to mention %q", tc.name, tc.method, tc.path, tc.body, a.Body, w)
			}
		}
		if a.Status == http.StatusMethodNotAllowed && a.Header.Get("Allow") == "" {
			t.Errorf("%s: 405 without an Allow header", tc.name)
		}
	}
	want := []emulator.Fault{
		{Action: "AllocateEipAddress", Code: "QuotaExceeded.Eip", Status: opErrorRef(t, "AllocateEipAddress", "QuotaExceeded.Eip").Status, Count: 1},
		{Action: "DescribeEipAddresses", Probability: 0.25, Seed: 3, Latency: emulator.Duration{Duration: time.Millisecond}},
	}
	if diff := cmp.Diff(want, e.listFaults(), ignoreRNG); diff != "" {
		t.Errorf("GET %s after two valid POSTs mismatch (-want +got):\n%s", path, diff)
	}
	if diff := cmp.Diff(opErrorRef(t, "AllocateEipAddress", "QuotaExceeded.Eip"), e.call("AllocateEipAddress").code()); diff != "" {
		t.Errorf("AllocateEipAddress after POST %s: the fault did not fire (-want +got):\n%s", path, diff)
	}
	if a := serveOne(e.srv, http.MethodDelete, path, "", ""); a.Status != http.StatusNoContent {
		t.Errorf("DELETE %s: status %d, want %d", path, a.Status, http.StatusNoContent)
	}
	if got := e.listFaults(); len(got) != 0 {
		t.Errorf("GET %s after DELETE = %+v, want none", path, got)
	}
}

// TestAPIRequestsCannotInjectFaults guards the separation of the two channels: nothing an API
// request carries reaches the fault table.
func TestAPIRequestsCannotInjectFaults(t *testing.T) {
	e := newFaultEnv(t)
	fault := `{"action":"AllocateEipAddress","code":"QuotaExceeded.Eip","count":5}`
	faultForm := url.Values{"action": {"AllocateEipAddress"}, "code": {"QuotaExceeded.Eip"}, "count": {"5"}}.Encode()
	unknownAction := protocolRef(t, spec.ErrUnknownAction)
	for _, tc := range []struct {
		name                      string
		method, target, ct, body  string
		sign                      url.Values // signed and sent as the form body instead of body
		wantUnknownAction, anyErr bool
	}{
		{name: "a fault as a form on /", method: http.MethodPost, target: "/", body: faultForm, anyErr: true},
		{name: "a fault as JSON on /", method: http.MethodPost, target: "/", ct: "application/json", body: fault, anyErr: true},
		{name: "a fault as JSON on /_emulator", method: http.MethodPost, target: "/_emulator", ct: "application/json", body: fault, anyErr: true},
		{name: "a fault as JSON on //_emulator/faults", method: http.MethodPost, target: "//_emulator/faults", ct: "application/json", body: fault, anyErr: true},
		{name: "Action=_emulator/faults", sign: request("_emulator/faults", "code", "QuotaExceeded.Eip", "count", "5"), wantUnknownAction: true},
		{name: "Action=/_emulator/faults", sign: request("/_emulator/faults"), wantUnknownAction: true},
		{name: "Action=faults", sign: request("faults"), wantUnknownAction: true},
		{name: "Action=InjectFault", sign: request("InjectFault"), wantUnknownAction: true},
		{name: "path=_emulator/faults", sign: request("DescribeEipAddresses", "path", "/_emulator/faults", "action", "AllocateEipAddress", "code", "QuotaExceeded.Eip", "count", "5")},
		{name: "the control path in the query of /", method: http.MethodPost, target: "/?" + url.Values{"url": {"/_emulator/faults"}}.Encode(), ct: "application/json", body: fault, anyErr: true},
	} {
		var a answer
		if tc.sign != nil {
			a = send(e.srv, http.MethodPost, e.s.sign(http.MethodPost, tc.sign))
		} else {
			a = serveOne(e.srv, tc.method, tc.target, tc.ct, tc.body)
		}
		switch {
		case tc.wantUnknownAction:
			if diff := cmp.Diff(unknownAction, a.code()); diff != "" {
				t.Errorf("%s: mismatch (-want +got):\n%s\nbody: %s", tc.name, diff, a.Body)
			}
		case tc.anyErr:
			if a.Status < 400 || a.Status > 499 || a.ErrorDecode != nil {
				t.Errorf("%s: got %d %s (%v), want an RPC error body", tc.name, a.Status, a.Body, a.ErrorDecode)
			}
		default:
			if a.Status != http.StatusOK {
				t.Errorf("%s: got %d %s, want 200", tc.name, a.Status, a.Body)
			}
		}
		if got := e.listFaults(); len(got) != 0 {
			t.Fatalf("%s: the fault table changed: %+v", tc.name, got)
		}
	}
	if a := e.call("AllocateEipAddress"); a.Status != http.StatusOK {
		t.Errorf("AllocateEipAddress after the API requests: got %d %s, want 200 (no fault)", a.Status, a.Body)
	}
}

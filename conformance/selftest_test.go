package conformance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eipconform/eipconform/conformance"
	"github.com/eipconform/eipconform/emulator"
	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The self-test: the harness finds nothing wrong with the reference endpoint, whatever the
// seed, and finds each deliberately broken endpoint wrong through the check that guards the
// broken thing and through no unrelated one.

// TestZeroViolationsAcrossSeeds runs every phase against a fresh emulator for several seeds
// (and once without authentication): no violation of severity error, nothing left behind.
// Eight seeds; two with -short, three under the race detector (each run costs about eight
// times as much there, and finding races needs concurrency, not more seeds).
func TestZeroViolationsAcrossSeeds(t *testing.T) {
	seeds := 8
	switch {
	case testing.Short():
		seeds = 2
	case raceEnabled():
		seeds = 3
	}
	run := func(t *testing.T, eo emulator.Options, seed int64) {
		rep, err := conformance.Check(t.Context(), embedded(t, eo), conformance.Options{Seed: seed})
		if err != nil {
			t.Fatalf("Check(seed %d) = %v", seed, err)
		}
		if !rep.OK() {
			for _, v := range rep.Errors() {
				t.Errorf("seed %d: %s", seed, v)
			}
			t.Errorf("seed %d: %d violations against the reference emulator, want 0 (reproduce: go test ./conformance -run '^TestZeroViolationsAcrossSeeds$/^%s$')",
				seed, len(rep.Errors()), t.Name()[strings.LastIndex(t.Name(), "/")+1:])
		}
		for _, l := range rep.Leftovers {
			t.Errorf("seed %d: leftover %s: %s", seed, l.ID, l.Reason)
		}
		if rep.Cases == 0 {
			t.Errorf("seed %d: no case was sent", seed)
		}
		t.Logf("seed %d: %d cases in %v", seed, rep.Cases, rep.Duration)
	}
	for seed := int64(1); seed <= int64(seeds); seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			run(t, emulator.Options{}, seed)
		})
	}
	t.Run("NoAuth", func(t *testing.T) {
		t.Parallel()
		run(t, emulator.Options{NoAuth: true}, 1)
	})
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	return ok && slices.ContainsFunc(bi.Settings, func(s debug.BuildSetting) bool { return s.Key == "-race" && s.Value == "true" })
}

// exampleSecret is the secret the broken endpoints re-sign requests with.
var exampleSecret = spec.Default().Signature.ExampleAccessKeySecret

// answer is an endpoint's answer, for a breakage to rewrite.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// format is the format the answer's Content-Type names.
func (a *answer) format() rpc.Format {
	if strings.Contains(a.header.Get("Content-Type"), "xml") {
		return rpc.XML
	}
	return rpc.JSON
}

// breakage wraps a correct endpoint and breaks one thing of it.
type breakage struct {
	// request, when set, may rewrite a request's parameters before the endpoint sees them
	// and reports whether it did; a rewritten request is forwarded as a form POST (a query
	// for GET) and must be re-signed by the rewrite where needed (resign).
	request func(method string, p url.Values) bool
	// response, when set, may rewrite the endpoint's answer to a request with parameters p.
	response func(p url.Values, a *answer)
	// serve, when set, serves the (rewritten) request with parameters p in place of inner,
	// for breakages that need the endpoint's state.
	serve func(inner http.Handler, p url.Values, w http.ResponseWriter, r *http.Request)
}

// wrap returns inner with the breakage applied.
func (b breakage) wrap(inner http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		read := r.Clone(r.Context())
		read.Body = io.NopCloser(bytes.NewReader(body))
		p, err := rpc.ReadParams(read, 0)
		if err != nil {
			inner.ServeHTTP(w, r) // a malformed request: nothing to break
			return
		}
		fwd := r
		if b.request != nil && b.request(r.Method, p) {
			fwd = forward(r, p)
		}
		serve := inner.ServeHTTP
		if b.serve != nil {
			serve = func(w http.ResponseWriter, r *http.Request) { b.serve(inner, p, w, r) }
		}
		if b.response == nil {
			serve(w, fwd)
			return
		}
		rec := httptest.NewRecorder()
		serve(rec, fwd)
		a := &answer{status: rec.Code, header: rec.Header().Clone(), body: rec.Body.Bytes()}
		b.response(p, a)
		for k, v := range a.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(a.body)))
		w.WriteHeader(a.status)
		w.Write(a.body)
	})
}

// forward builds the request that carries p instead of r's parameters.
func forward(r *http.Request, p url.Values) *http.Request {
	u := *r.URL
	if r.Method == http.MethodGet {
		u.RawQuery = rpc.EncodeForm(p)
		f, _ := http.NewRequestWithContext(r.Context(), r.Method, u.String(), nil)
		return f
	}
	u.RawQuery = ""
	f, _ := http.NewRequestWithContext(r.Context(), r.Method, u.String(), strings.NewReader(rpc.EncodeForm(p)))
	f.Header.Set("Content-Type", rpc.FormContentType)
	return f
}

// resign signs p again with the example secret, if it was signed at all.
func resign(method string, p url.Values) {
	if p.Has(rpc.ParamSignature) {
		p.Set(rpc.ParamSignature, rpc.Sign(method, p, exampleSecret))
	}
}

// action restricts a rewrite to one operation's requests.
func action(name string, f func(p url.Values, a *answer)) func(url.Values, *answer) {
	return func(p url.Values, a *answer) {
		if p.Get(rpc.ParamAction) == name {
			f(p, a)
		}
	}
}

// editJSON rewrites a JSON object body through edit; other bodies are left alone. Numbers
// are kept as written.
func editJSON(a *answer, edit func(m map[string]any)) {
	if a.format() != rpc.JSON {
		return
	}
	dec := json.NewDecoder(bytes.NewReader(a.body))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil || m == nil {
		return
	}
	edit(m)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		panic(err)
	}
	a.body = b.Bytes()
}

// dropXML removes every element named name (with its text) from an XML body.
func dropXML(a *answer, name string) {
	if a.format() != rpc.XML {
		return
	}
	re := regexp.MustCompile(`<` + regexp.QuoteMeta(name) + `(?:>[^<]*</` + regexp.QuoteMeta(name) + `>|/>)`)
	a.body = re.ReplaceAll(a.body, nil)
}

// errorAnswer replaces the answer with a well-formed error body: only the status and Code
// are wrong, so only the status (or no-5xx) check may notice.
func errorAnswer(p url.Values, a *answer, status int, code string) {
	f, _ := rpc.ParseFormat(p.Get(rpc.ParamFormat), rpc.DefaultFormat())
	rec := httptest.NewRecorder()
	rpc.WriteError(rec, f, status, rpc.ErrorBody{RequestId: "5E1F7E57-0000-4000-8000-000000000001", HostId: "vpc.aliyuncs.com",
		Code: code, Message: "deliberately broken", Recommend: "https://api.aliyun.com/troubleshoot?q=" + code})
	a.status, a.header, a.body = rec.Code, rec.Header(), rec.Body.Bytes()
}

// want is a violation a broken endpoint must produce: Operation "" means any.
type want struct {
	Operation, Phase, Check string
	Severity                conformance.Severity
}

func (w want) matches(v conformance.Violation) bool {
	return (w.Operation == "" || w.Operation == v.Operation) && w.Phase == v.Phase && w.Check == v.Check && w.Severity == v.Severity
}

// brokenRow is one deliberately broken endpoint and what must catch it.
type brokenRow struct {
	name     string
	endpoint breakage
	only     []string // the phases and operations that exercise the breakage
	// cases is Options.Cases (each property's inputs; the stateful phase runs Cases/5
	// sequences per property); 0 means 20.
	cases int
	want  []want // each must be found at least once
	// allowed are the checks any violation (of either severity) may have; want's checks are
	// always allowed.
	allowed []string
	// gotMentions, per check, is what the Got of each of its violations must mention: a
	// wider allowed set is kept to the one finding it is there for.
	gotMentions map[string]string
	// warningsOnly: the breakage deviates from the gateway without breaking the contract, so
	// Report.OK() must stay true.
	warningsOnly bool
}

const (
	errSev  = conformance.SeverityError
	warnSev = conformance.SeverityWarning
)

// brokenRows are the deliberately broken endpoints. Each row breaks one thing and selects
// the phases and operations that exercise it, to stay fast.
func brokenRows() []brokenRow {
	return []brokenRow{
		{
			// Off by one: Bandwidth=501 is served as 500, which the emulator accepts where
			// PayByBandwidth's range ends at 500.
			name: "OffByOneRange",
			endpoint: breakage{request: func(method string, p url.Values) bool {
				if p.Get(rpc.ParamAction) != "AllocateEipAddress" || p.Get("Bandwidth") != "501" {
					return false
				}
				p.Set("Bandwidth", "500")
				resign(method, p)
				return true
			}},
			only: []string{"AllocateEipAddress/boundaries"},
			want: []want{{"AllocateEipAddress", conformance.PhaseBoundaries, conformance.CheckStatus, errSev}},
		},
		{
			// A wrong code: InvalidParam where the documents name InvalidParameter.
			name: "WrongCode",
			endpoint: breakage{response: action("ModifyEipAddressAttribute", func(p url.Values, a *answer) {
				a.body = bytes.ReplaceAll(a.body, []byte(`"Code":"InvalidParameter"`), []byte(`"Code":"InvalidParam"`))
				a.body = bytes.ReplaceAll(a.body, []byte(`<Code>InvalidParameter</Code>`), []byte(`<Code>InvalidParam</Code>`))
			})},
			only: []string{"ModifyEipAddressAttribute/boundaries"},
			want: []want{{"ModifyEipAddressAttribute", conformance.PhaseBoundaries, conformance.CheckStatus, errSev}},
		},
		{
			// A wrong status: 400 for InvalidLockReason.NotFound, which 004 documents as 404.
			name: "WrongStatus",
			endpoint: breakage{response: func(p url.Values, a *answer) {
				if a.status == http.StatusNotFound && bytes.Contains(a.body, []byte("InvalidLockReason.NotFound")) {
					a.status = http.StatusBadRequest
				}
			}},
			only: []string{"DescribeEipAddresses/boundaries"},
			want: []want{{"DescribeEipAddresses", conformance.PhaseBoundaries, conformance.CheckStatus, errSev}},
		},
		{
			// A 5xx: the endpoint crashes on names that start with a digit (a well-formed
			// 500 InternalError body, so only no-5xx can notice).
			name: "ServerError",
			endpoint: breakage{response: action("ModifyEipAddressAttribute", func(p url.Values, a *answer) {
				if n := p.Get("Name"); n != "" && n[0] >= '0' && n[0] <= '9' {
					errorAnswer(p, a, http.StatusInternalServerError, "InternalError")
				}
			})},
			only: []string{"ModifyEipAddressAttribute/boundaries"},
			want: []want{{"ModifyEipAddressAttribute", conformance.PhaseBoundaries, conformance.CheckNo5xx, errSev}},
		},
		{
			// Success bodies without RequestId. The contract's success schemas all require
			// RequestId, so the schema check rightly reports the same body as well.
			name: "MissingRequestId",
			endpoint: breakage{response: action("DescribeEipGatewayInfo", func(p url.Values, a *answer) {
				if a.status == http.StatusOK {
					editJSON(a, func(m map[string]any) { delete(m, "RequestId") })
					dropXML(a, "RequestId")
				}
			})},
			only:        []string{"DescribeEipGatewayInfo/boundaries"},
			want:        []want{{"DescribeEipGatewayInfo", conformance.PhaseBoundaries, conformance.CheckRequestID, errSev}},
			allowed:     []string{conformance.CheckSchema},
			gotMentions: map[string]string{conformance.CheckSchema: `"RequestId"`},
		},
		{
			// The same, on an operation whose boundary and property cases run beside the
			// stateful phase (selected too, so they do): caught there as before the phase.
			name: "MissingRequestIdBesideStateful",
			endpoint: breakage{response: action("OpenPublicIpAddressPoolService", func(p url.Values, a *answer) {
				if a.status == http.StatusOK {
					editJSON(a, func(m map[string]any) { delete(m, "RequestId") })
					dropXML(a, "RequestId")
				}
			})},
			only: []string{"OpenPublicIpAddressPoolService", conformance.PhaseStateful},
			want: []want{
				{"OpenPublicIpAddressPoolService", conformance.PhaseBoundaries, conformance.CheckRequestID, errSev},
				{"OpenPublicIpAddressPoolService", conformance.PhaseProperties, conformance.CheckRequestID, errSev},
			},
			allowed:     []string{conformance.CheckSchema, conformance.CheckValidAccepted},
			gotMentions: map[string]string{conformance.CheckSchema: `"RequestId"`},
		},
		{
			// The same, on a command of the stateful phase, whose response checks wait until
			// the command's region lock is free.
			name: "MissingRequestIdInStateful",
			endpoint: breakage{response: action("DescribeEipMonitorData", func(p url.Values, a *answer) {
				if a.status == http.StatusOK {
					editJSON(a, func(m map[string]any) { delete(m, "RequestId") })
					dropXML(a, "RequestId")
				}
			})},
			only:        []string{conformance.PhaseStateful},
			want:        []want{{"DescribeEipMonitorData", conformance.PhaseStateful, conformance.CheckRequestID, errSev}},
			allowed:     []string{conformance.CheckSchema},
			gotMentions: map[string]string{conformance.CheckSchema: `"RequestId"`},
		},
		{
			// Error bodies without Message.
			name: "ErrorWithoutMessage",
			endpoint: breakage{response: action("DescribeEipGatewayInfo", func(p url.Values, a *answer) {
				if a.status >= 400 {
					editJSON(a, func(m map[string]any) { delete(m, "Message") })
					dropXML(a, "Message")
				}
			})},
			only: []string{"DescribeEipGatewayInfo/boundaries"},
			want: []want{{"DescribeEipGatewayInfo", conformance.PhaseBoundaries, conformance.CheckErrorBody, errSev}},
		},
		{
			// Error bodies without HostId: the gateway sends it, the contract does not
			// require it, so a warning only.
			name: "ErrorWithoutHostId",
			endpoint: breakage{response: action("DescribeEipGatewayInfo", func(p url.Values, a *answer) {
				if a.status >= 400 {
					editJSON(a, func(m map[string]any) { delete(m, "HostId") })
					dropXML(a, "HostId")
				}
			})},
			only:         []string{"DescribeEipGatewayInfo/boundaries"},
			want:         []want{{"DescribeEipGatewayInfo", conformance.PhaseBoundaries, conformance.CheckErrorBody, warnSev}},
			warningsOnly: true,
		},
		{
			// TotalCount as a string in JSON success bodies (XML has no types to get wrong).
			name: "TotalCountString",
			endpoint: breakage{response: action("DescribeEipAddresses", func(p url.Values, a *answer) {
				if a.status == http.StatusOK {
					editJSON(a, func(m map[string]any) {
						if n, ok := m["TotalCount"].(json.Number); ok {
							m["TotalCount"] = n.String()
						}
					})
				}
			})},
			only: []string{"DescribeEipAddresses/boundaries"},
			want: []want{{"DescribeEipAddresses", conformance.PhaseBoundaries, conformance.CheckSchema, errSev}},
		},
		{
			// JSON answered to requests asking for XML (a correct JSON body, JSON content type).
			name: "JSONForXML",
			endpoint: breakage{response: action("DescribeEipGatewayInfo", func(p url.Values, a *answer) {
				if a.format() != rpc.XML {
					return
				}
				var v any
				if a.status == http.StatusOK {
					_, v, _ = rpc.DecodeSuccess(rpc.XML, a.body, spec.Default().Operation("DescribeEipGatewayInfo").SuccessSchema().Value)
				} else {
					v, _ = rpc.DecodeError(rpc.XML, a.body)
				}
				a.body, _ = json.Marshal(v)
				a.header.Set("Content-Type", rpc.JSONContentType)
			})},
			only: []string{"DescribeEipGatewayInfo/boundaries"},
			want: []want{{"DescribeEipGatewayInfo", conformance.PhaseBoundaries, conformance.CheckFormat, errSev}},
		},
		{
			// A Content-Type that names no format, on every answer (JSON and XML).
			name: "WrongContentType",
			endpoint: breakage{response: action("DescribeEipGatewayInfo", func(p url.Values, a *answer) {
				a.header.Set("Content-Type", "text/plain; charset=utf-8")
			})},
			only: []string{"DescribeEipGatewayInfo/boundaries"},
			want: []want{{"DescribeEipGatewayInfo", conformance.PhaseBoundaries, conformance.CheckFormat, errSev}},
		},
		{
			// The connection dropped without an answer, for requests asking for XML.
			name: "ConnectionDropped",
			endpoint: breakage{serve: func(inner http.Handler, p url.Values, w http.ResponseWriter, r *http.Request) {
				if p.Get(rpc.ParamAction) == "DescribeEipGatewayInfo" && strings.EqualFold(p.Get(rpc.ParamFormat), "XML") {
					panic(http.ErrAbortHandler)
				}
				inner.ServeHTTP(w, r)
			}},
			only: []string{"DescribeEipGatewayInfo/boundaries"},
			want: []want{{"DescribeEipGatewayInfo", conformance.PhaseBoundaries, conformance.CheckTransport, errSev}},
		},
		{
			// The documents' own DescribeEipAddresses sample refused.
			name: "ExampleRefused",
			endpoint: breakage{response: action("DescribeEipAddresses", func(p url.Values, a *answer) {
				errorAnswer(p, a, http.StatusBadRequest, "InvalidParameter")
			})},
			only: []string{"DescribeEipAddresses/examples"},
			want: []want{{"DescribeEipAddresses", conformance.PhaseExamples, conformance.CheckStatus, errSev}},
		},
		{
			// A required parameter defaulted: DescribeEipMonitorData without EndTime is served
			// as if EndTime were ten minutes after a well-formed StartTime. (The brief's "any
			// Period accepted" cannot be this row: no boundary case breaks Period.enum alone, so
			// the property never sends one; see the report.)
			name: "EndTimeDefaulted",
			endpoint: breakage{request: func(method string, p url.Values) bool {
				op := spec.Default().Operation(p.Get(rpc.ParamAction))
				if op == nil || op.Action != "DescribeEipMonitorData" || p.Has("EndTime") {
					return false
				}
				layout := op.Parameter("StartTime").TimeLayout
				start, ok := spec.ParseTime(layout, p.Get("StartTime"))
				if !ok {
					return false
				}
				p.Set("EndTime", start.Add(10*time.Minute).Format(layout))
				resign(method, p)
				return true
			}},
			only: []string{"DescribeEipMonitorData/properties"},
			want: []want{{"DescribeEipMonitorData", conformance.PhaseProperties, conformance.CheckOneRuleBroken, errSev}},
			// The property's shrunk counterexample is sent once more and recorded with its
			// response checks: its wrong status is the same finding.
			allowed: []string{conformance.CheckStatus},
		},
		{
			// A released EIP lives on: DescribeEipAddresses by its AllocationId still lists it
			// and releasing it again succeeds (once), so the janitor is not confused.
			name:     "ReleasedStillListed",
			endpoint: breakage{serve: ghosts()},
			only:     []string{conformance.PhaseStateful},
			want:     []want{{"", conformance.PhaseStateful, conformance.CheckUseAfterRelease, errSev}},
		},
		{
			// ClientToken ignored: every repeat allocates a new EIP.
			name: "ClientTokenIgnored",
			endpoint: breakage{request: func(method string, p url.Values) bool {
				if p.Get(rpc.ParamAction) != "AllocateEipAddress" || !p.Has("ClientToken") {
					return false
				}
				p.Del("ClientToken")
				resign(method, p)
				return true
			}},
			only: []string{conformance.PhaseStateful},
			want: []want{{"", conformance.PhaseStateful, conformance.CheckIdempotency, errSev}},
		},
		{
			// A forged signature accepted: a request whose signature does not verify is signed
			// again, correctly, before the endpoint sees it.
			name: "ForgedSignatureAccepted",
			endpoint: breakage{request: func(method string, p url.Values) bool {
				if !p.Has(rpc.ParamSignature) {
					return false
				}
				if ok, _ := rpc.Verify(method, p, exampleSecret); ok {
					return false
				}
				resign(method, p)
				return true
			}},
			only: []string{conformance.PhaseProtocol},
			want: []want{{"", conformance.PhaseProtocol, conformance.CheckSignature, errSev}},
		},
		{
			// A reused nonce accepted: every validly signed request gets a fresh nonce.
			name: "NonceReuseAccepted",
			endpoint: breakage{request: func(method string, p url.Values) bool {
				if ok, _ := rpc.Verify(method, p, exampleSecret); !ok || p.Get(rpc.ParamSignatureNonce) == "" {
					return false // left alone: refused for its signature, or for a missing nonce
				}
				p.Set(rpc.ParamSignatureNonce, p.Get(rpc.ParamSignatureNonce)+"-fresh-"+strconv.FormatInt(freshNonces.Add(1), 10))
				resign(method, p)
				return true
			}},
			only: []string{conformance.PhaseProtocol},
			want: []want{{"", conformance.PhaseProtocol, conformance.CheckNonce, errSev}},
		},
		{
			// JSON and XML disagree: XML success bodies lack ResourceGroupId, which no
			// success schema requires.
			name: "XMLDropsField",
			endpoint: breakage{response: func(p url.Values, a *answer) {
				if a.status == http.StatusOK {
					dropXML(a, "ResourceGroupId")
				}
			}},
			only: []string{conformance.PhaseProtocol},
			want: []want{{"", conformance.PhaseProtocol, conformance.CheckParity, errSev}},
		},
	}
}

// freshNonces numbers the nonces NonceReuseAccepted makes up.
var freshNonces atomic.Int64

// ghosts returns a serve hook under which released EIPs live on: ReleaseEipAddress first
// snapshots the EIP's description, then releases it; afterwards DescribeEipAddresses by its
// AllocationId lists the snapshot, and one more ReleaseEipAddress of it succeeds (and lays
// the ghost to rest). Re-allocating its address under the same AllocationId revives it.
func ghosts() func(inner http.Handler, p url.Values, w http.ResponseWriter, r *http.Request) {
	var mu sync.Mutex
	dead := map[string]any{} // AllocationId → its last EipAddress entry
	sig := spec.Default().Signature
	return func(inner http.Handler, p url.Values, w http.ResponseWriter, r *http.Request) {
		id := p.Get("AllocationId")
		mu.Lock()
		ghost, haunted := dead[id]
		mu.Unlock()
		switch action := p.Get(rpc.ParamAction); {
		case action == "ReleaseEipAddress" && haunted:
			mu.Lock()
			delete(dead, id)
			mu.Unlock()
			op := spec.Default().Operation(action)
			f, _ := rpc.ParseFormat(p.Get(rpc.ParamFormat), rpc.DefaultFormat())
			rpc.WriteSuccess(w, f, op.XMLRoot(), op.SuccessSchema().Value, map[string]any{"RequestId": "60057000-0000-4000-8000-000000000001"})
			return
		case action == "ReleaseEipAddress":
			c := &rpc.Client{Endpoint: "http://inner", AccessKeyID: sig.ExampleAccessKeyID, AccessKeySecret: exampleSecret,
				HTTP: &http.Client{Transport: handlerTransport{inner}}}
			describe := spec.Default().Operation("DescribeEipAddresses")
			resp, err := c.Do(r.Context(), url.Values{rpc.ParamAction: {describe.Action}, rpc.ParamVersion: {describe.Version},
				"RegionId": {p.Get("RegionId")}, "AllocationId": {id}, rpc.ParamFormat: {string(rpc.JSON)}})
			rec := httptest.NewRecorder()
			inner.ServeHTTP(rec, r)
			if err == nil && resp.Status == http.StatusOK && rec.Code == http.StatusOK {
				var d struct{ EipAddresses struct{ EipAddress []any } }
				dec := json.NewDecoder(bytes.NewReader(resp.Body))
				dec.UseNumber()
				if dec.Decode(&d) == nil && len(d.EipAddresses.EipAddress) == 1 {
					mu.Lock()
					dead[id] = d.EipAddresses.EipAddress[0]
					mu.Unlock()
				}
			}
			copyAnswer(w, rec)
			return
		case action == "DescribeEipAddresses" && haunted:
			rec := httptest.NewRecorder()
			inner.ServeHTTP(rec, r)
			a := &answer{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
			if a.status == http.StatusOK {
				editJSON(a, func(m map[string]any) {
					list, _ := m["EipAddresses"].(map[string]any)
					if list == nil {
						return
					}
					items, _ := list["EipAddress"].([]any)
					list["EipAddress"] = append(items, ghost)
					m["TotalCount"] = json.Number(strconv.Itoa(len(items) + 1))
				})
				a.header.Del("Content-Length")
			}
			for k, v := range a.header {
				w.Header()[k] = v
			}
			w.WriteHeader(a.status)
			w.Write(a.body)
			return
		case action == "AllocateEipAddress":
			rec := httptest.NewRecorder()
			inner.ServeHTTP(rec, r)
			var a struct{ AllocationId string }
			if rec.Code == http.StatusOK && json.Unmarshal(rec.Body.Bytes(), &a) == nil {
				mu.Lock()
				delete(dead, a.AllocationId)
				mu.Unlock()
			}
			copyAnswer(w, rec)
			return
		}
		inner.ServeHTTP(w, r)
	}
}

// copyAnswer writes a recorded answer.
func copyAnswer(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// handlerTransport sends requests to a handler in-process.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// TestBrokenEndpoints checks that each deliberately broken endpoint is caught by the check
// that guards what it breaks, and by nothing unrelated.
func TestBrokenEndpoints(t *testing.T) {
	for _, row := range brokenRows() {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			if row.cases == 0 {
				row.cases = 20
			}
			target := embedded(t, emulator.Options{})
			target.Handler = row.endpoint.wrap(target.Handler)
			rep, err := conformance.Check(t.Context(), target, conformance.Options{Seed: 1, Cases: row.cases, Only: row.only})
			if err != nil {
				t.Fatalf("Check(Only %v) = %v", row.only, err)
			}
			dump := func() string {
				var b strings.Builder
				for _, v := range rep.Violations {
					fmt.Fprintf(&b, "\n[%s] %s", v.Severity, v)
				}
				return b.String()
			}
			caught := map[string]int{}
			for _, v := range rep.Violations {
				caught[v.Phase+"/"+v.Check+" ("+string(v.Severity)+")"]++
			}
			t.Logf("%d cases, violations by phase/check: %v", rep.Cases, caught)
			for _, w := range row.want {
				if !slices.ContainsFunc(rep.Violations, w.matches) {
					t.Errorf("no %s violation of %s/%s/%s; the run found %d:%s", w.Severity, orAny(w.Operation), w.Phase, w.Check, len(rep.Violations), dump())
				}
			}
			allowed := slices.Clone(row.allowed)
			for _, w := range row.want {
				allowed = append(allowed, w.Check)
			}
			for _, v := range rep.Violations {
				if !slices.Contains(allowed, v.Check) {
					t.Errorf("unrelated violation (allowed checks: %s):\n[%s] %s", strings.Join(allowed, ", "), v.Severity, v)
				}
				if m, ok := row.gotMentions[v.Check]; ok && !strings.Contains(v.Got, m) {
					t.Errorf("violation of %s does not mention %s, so it is not the breakage's:\n[%s] %s", v.Check, m, v.Severity, v)
				}
			}
			if row.warningsOnly && !rep.OK() {
				t.Errorf("Report.OK() = false, want true (warnings only):%s", dump())
			}
			if !row.warningsOnly && rep.OK() {
				t.Errorf("Report.OK() = true, want false")
			}
			for _, l := range rep.Leftovers {
				t.Errorf("leftover %s: %s", l.ID, l.Reason)
			}
		})
	}
}

// TestBrokenEndpointsControl: the wrapper the broken endpoints are built on, breaking nothing
// but taking every path (each request read, re-signed and forwarded anew, each answer recorded
// and written again), leaves the emulator conformant, so what the rows find is their
// breakage's.
func TestBrokenEndpointsControl(t *testing.T) {
	target := embedded(t, emulator.Options{})
	target.Handler = breakage{
		request: func(method string, p url.Values) bool {
			if ok, _ := rpc.Verify(method, p, exampleSecret); !ok {
				return false // a deliberately bad signature stays bad
			}
			resign(method, p)
			return true
		},
		response: func(url.Values, *answer) {},
	}.wrap(target.Handler)
	rep, err := conformance.Check(t.Context(), target, conformance.Options{Seed: 1, Cases: 20})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range rep.Violations {
		t.Errorf("[%s] %s", v.Severity, v)
	}
	for _, l := range rep.Leftovers {
		t.Errorf("leftover %s: %s", l.ID, l.Reason)
	}
}

func orAny(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

// TestReportDeterministic runs the same seed twice against the same kind of broken endpoint:
// the violations come in the same order with the same content, whatever the order of work
// (Workers > 1). Only what the endpoint or the clock makes up differs between runs:
// timestamps, nonces, request and allocation IDs.
func TestReportDeterministic(t *testing.T) {
	// WrongCode's breakage on every operation (violations in many operations, in the
	// examples, boundaries and properties phases) and ClientTokenIgnored's (a stateful
	// property falsified and shrunk).
	rows := brokenRows()
	tokens := rows[slices.IndexFunc(rows, func(r brokenRow) bool { return r.name == "ClientTokenIgnored" })]
	b := breakage{request: tokens.endpoint.request, response: func(p url.Values, a *answer) {
		a.body = bytes.ReplaceAll(a.body, []byte(`"Code":"InvalidParameter"`), []byte(`"Code":"InvalidParam"`))
		a.body = bytes.ReplaceAll(a.body, []byte(`<Code>InvalidParameter</Code>`), []byte(`<Code>InvalidParam</Code>`))
	}}
	run := func() []conformance.Violation {
		target := embedded(t, emulator.Options{})
		target.Handler = b.wrap(target.Handler)
		rep, err := conformance.Check(context.Background(), target, conformance.Options{Seed: 7, Workers: 4, Cases: 20})
		if err != nil {
			t.Fatal(err)
		}
		phases := map[string]int{}
		for _, v := range rep.Violations {
			phases[v.Phase]++
		}
		t.Logf("violations by phase: %v", phases)
		// The phases that work concurrently or search randomly (the examples phase is one
		// sequence of requests).
		for _, p := range []string{conformance.PhaseBoundaries, conformance.PhaseProperties, conformance.PhaseStateful} {
			if phases[p] == 0 {
				t.Errorf("the broken endpoint gave no violation in phase %s; the test wants its ordering checked", p)
			}
		}
		return normalize(rep.Violations)
	}
	first, second := run(), run()
	// Body is the endpoint's answer, not the harness's doing: concurrent allocations get
	// their addresses in any order.
	if diff := cmp.Diff(first, second, cmpopts.IgnoreFields(conformance.Violation{}, "Body")); diff != "" {
		t.Errorf("two runs with seed 7 differ (-first +second):\n%s", diff)
	}
}

// volatile matches what differs between two runs with one seed: the clock's and the nonce
// generator's parameters, the stateful phase's per-run ClientToken prefix (unique to the run
// by design, so a real endpoint's memory of earlier runs' tokens cannot interfere), and what
// the endpoint hands out in the order requests arrive (request IDs, AllocationIds,
// addresses; a schema violation's Got quotes the body).
var volatile = regexp.MustCompile(`(Timestamp|SignatureNonce)=[^&]*|eipconform-[0-9a-f]{16}|E0C0FFEE-[0-9A-F-]+|eip-emu[0-9a-z]+|(192\.0\.2|198\.51\.100|203\.0\.113)\.[0-9]+`)

// normalize blanks what the clock and the endpoint make up (see volatile).
func normalize(vs []conformance.Violation) []conformance.Violation {
	out := slices.Clone(vs)
	for i := range out {
		for _, s := range []*string{&out[i].Case, &out[i].Request, &out[i].Got, &out[i].Want, &out[i].Diff, &out[i].Message, &out[i].Counterexample} {
			*s = volatile.ReplaceAllStringFunc(*s, func(m string) string {
				if k, _, ok := strings.Cut(m, "="); ok {
					return k + "=X"
				}
				return "X"
			})
		}
	}
	return out
}

package conformance_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/eipconform/eipconform/conformance"
	"github.com/eipconform/eipconform/emulator"
	"github.com/eipconform/eipconform/internal/rpc"
)

// statefulOnly runs the stateful phase alone, with cases/5 sequences per property (the
// default is 20; fewer keep -race runs short).
func statefulOnly(t *testing.T, target conformance.Target, seed int64, cases int) *conformance.Report {
	t.Helper()
	rep, err := conformance.Check(t.Context(), target, conformance.Options{Seed: seed, Cases: cases, Only: []string{conformance.PhaseStateful}})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return rep
}

// TestStatefulAgainstTheEmulator: the reference endpoint breaks no post-condition, for
// several seeds, and the phase really ran (its checks passed, nothing was skipped).
func TestStatefulAgainstTheEmulator(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		t.Run("seed="+strconv.FormatInt(seed, 10), func(t *testing.T) {
			t.Parallel()
			rep := statefulOnly(t, embedded(t, emulator.Options{}), seed, 50)
			wantClean(t, rep)
		})
	}
}

// wantClean fails on any violation, skip or leftover of the stateful phase, and when the
// phase did not run.
func wantClean(t *testing.T, rep *conformance.Report) {
	t.Helper()
	for _, v := range rep.Errors() {
		t.Errorf("%s", v)
	}
	for _, s := range rep.Skipped {
		if s.Phase == conformance.PhaseStateful {
			t.Errorf("skipped %s %s: %s", s.Phase, s.Operation, s.Reason)
		}
	}
	for _, l := range rep.Leftovers {
		t.Errorf("leftover %s: %s", l.ID, l.Reason)
	}
	passed := 0
	for _, tl := range rep.Tallies {
		if tl.Phase == conformance.PhaseStateful {
			passed += tl.Pass
		}
	}
	if passed == 0 || rep.Cases == 0 {
		t.Errorf("the phase sent %d requests and passed %d checks; want some of both", rep.Cases, passed)
	}
	t.Logf("%d requests, %d passes, %v, notes %v", rep.Cases, passed, rep.Duration, rep.Notes)
}

// TestStatefulSharedRegion: the phase assumes neither an empty region nor free instances.
// EIPs of someone else (one associated with an instance) and an ECS public IP exist before
// it starts; it reports nothing, and leaves them as they were.
func TestStatefulSharedRegion(t *testing.T) {
	srv, err := emulator.New(emulator.Options{NoAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	c := &rpc.Client{Endpoint: ts.URL}
	do := func(p url.Values) map[string]any {
		t.Helper()
		resp, err := c.Do(t.Context(), p)
		if err != nil || resp.Status != http.StatusOK {
			t.Fatalf("setup %v: %v %+v", p, err, resp)
		}
		var m map[string]any
		if err := json.Unmarshal(resp.Body, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	vpc := func(action string, kv ...string) url.Values {
		p := url.Values{"Action": {action}, "Version": {"2016-04-28"}, "RegionId": {"cn-hangzhou"}}
		for i := 0; i < len(kv); i += 2 {
			p.Set(kv[i], kv[i+1])
		}
		return p
	}
	var ids []string
	for range 3 {
		ids = append(ids, do(vpc("AllocateEipAddress"))["AllocationId"].(string))
	}
	do(vpc("AssociateEipAddress", "AllocationId", ids[0], "InstanceId", "i-emu-running-1"))
	do(url.Values{"Action": {"AllocatePublicIpAddress"}, "Version": {"2014-05-26"}, "InstanceId": {"i-emu-running-2"}})
	before := do(vpc("DescribeEipAddresses", "PageSize", "50"))

	rep := statefulOnly(t, conformance.Target{Handler: srv, NoAuth: true}, 1, 50)
	wantClean(t, rep)

	after := do(vpc("DescribeEipAddresses", "PageSize", "50"))
	delete(before, "RequestId")
	delete(after, "RequestId")
	b, _ := json.Marshal(before)
	a, _ := json.Marshal(after)
	if !bytes.Equal(a, b) {
		t.Errorf("the phase changed EIPs it did not create:\nbefore %s\nafter  %s", b, a)
	}
}

// TestStatefulDeterministic: one seed, one fresh endpoint, one report.
func TestStatefulDeterministic(t *testing.T) {
	run := func() []string {
		target := embedded(t, emulator.Options{NoAuth: true})
		target.Handler = clientTokenIgnored(target.Handler)
		var out []string
		// The endpoint's AllocationIds and addresses depend on how the lanes' requests
		// interleave; what the harness decides does not.
		for _, v := range normalize(statefulOnly(t, target, 7, 25).Errors()) {
			out = append(out, v.Check+" | "+v.Case+" | "+v.Counterexample)
		}
		return out
	}
	first, second := run(), run()
	if len(first) == 0 {
		t.Fatal("no violation found; want the ignored ClientToken's")
	}
	if !slices.Equal(first, second) {
		t.Errorf("two runs with seed 7 differ:\n%s\n----\n%s", strings.Join(first, "\n"), strings.Join(second, "\n"))
	}
}

// TestStatefulCatchesBrokenEndpoints: each wrapper breaks one behaviour of the emulator, and
// the stateful phase reports it under the check that guards it, with a shrunk counterexample.
func TestStatefulCatchesBrokenEndpoints(t *testing.T) {
	for _, tc := range []struct {
		name   string
		noAuth bool // the wrapper changes requests, which would break their signatures
		wrap   func(http.Handler) http.Handler
		check  string
	}{
		{"released EIP still listed", false, releasedStillListed, conformance.CheckUseAfterRelease},
		{"ClientToken ignored", true, clientTokenIgnored, conformance.CheckIdempotency},
		{"TotalCount off by one", false, totalCountOffByOne, conformance.CheckPagination},
		{"associating an InUse EIP accepted", false, associateInUseAccepted, conformance.CheckLifecycle},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			target := embedded(t, emulator.Options{NoAuth: tc.noAuth})
			target.Handler = tc.wrap(target.Handler)
			rep := statefulOnly(t, target, 1, 25)
			var found *conformance.Violation
			for i, v := range rep.Errors() {
				if v.Phase != conformance.PhaseStateful {
					t.Errorf("a violation outside the stateful phase: %s", v)
				}
				if v.Check == tc.check && found == nil {
					found = &rep.Errors()[i]
				}
			}
			if found == nil {
				for _, v := range rep.Errors() {
					t.Logf("%s", v)
				}
				t.Fatalf("no %s/%s violation among %d", conformance.PhaseStateful, tc.check, len(rep.Errors()))
			}
			if found.Counterexample == "" || !strings.Contains(found.Counterexample, "← fails") || found.Seed != 1 || found.Reproduce == "" {
				t.Errorf("the violation lacks its counterexample or reproduce line:\n%s", found)
			}
			t.Logf("%s", found)
		})
	}
}

// intercept serves a request through next, letting edit change the answer; params are the
// request's parameters.
func intercept(next http.Handler, edit func(params url.Values, status int, header http.Header, body []byte) (int, []byte)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		params := readParams(r)
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		status, body := edit(params, rec.Code, rec.Header(), rec.Body.Bytes())
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(status)
		w.Write(body)
	})
}

// readParams reads a request's parameters and leaves its body readable.
func readParams(r *http.Request) url.Values {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	c := r.Clone(r.Context())
	c.Body = io.NopCloser(bytes.NewReader(body))
	p, _ := rpc.ReadParams(c, 0)
	return p
}

func isJSON(h http.Header) bool { return strings.Contains(h.Get("Content-Type"), "json") }

// releasedStillListed remembers every released EIP and adds it back to JSON
// DescribeEipAddresses answers that would match it.
func releasedStillListed(next http.Handler) http.Handler {
	var mu sync.Mutex
	released := map[string]bool{}
	return intercept(next, func(p url.Values, status int, h http.Header, body []byte) (int, []byte) {
		mu.Lock()
		defer mu.Unlock()
		switch p.Get("Action") {
		case "ReleaseEipAddress":
			if status == http.StatusOK {
				released[p.Get("AllocationId")] = true
			}
		case "DescribeEipAddresses":
			if status != http.StatusOK || !isJSON(h) || p.Get("Status") == "InUse" {
				return status, body
			}
			var m map[string]any
			if json.Unmarshal(body, &m) != nil {
				return status, body
			}
			list, _ := m["EipAddresses"].(map[string]any)
			items, _ := list["EipAddress"].([]any)
			for id := range released {
				if want := p.Get("AllocationId"); want == "" || want == id {
					items = append(items, map[string]any{"AllocationId": id, "Status": "Available", "RegionId": p.Get("RegionId"), "IpAddress": "198.51.100.200"})
				}
			}
			list["EipAddress"] = items
			out, _ := json.Marshal(m)
			return status, out
		}
		return status, body
	})
}

// clientTokenIgnored forwards requests without their ClientToken.
func clientTokenIgnored(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if form, err := url.ParseQuery(string(body)); err == nil && form.Has("ClientToken") {
			form.Del("ClientToken")
			body = []byte(form.Encode())
		}
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		q := r.URL.Query()
		q.Del("ClientToken")
		r.URL.RawQuery = q.Encode()
		next.ServeHTTP(w, r)
	})
}

var totalCount = regexp.MustCompile(`("TotalCount":\s*|<TotalCount>)(\d+)`)

// totalCountOffByOne adds one to every DescribeEipAddresses TotalCount, JSON or XML.
func totalCountOffByOne(next http.Handler) http.Handler {
	return intercept(next, func(p url.Values, status int, h http.Header, body []byte) (int, []byte) {
		if p.Get("Action") != "DescribeEipAddresses" || status != http.StatusOK {
			return status, body
		}
		return status, totalCount.ReplaceAllFunc(body, func(m []byte) []byte {
			sub := totalCount.FindSubmatch(m)
			n, _ := strconv.Atoi(string(sub[2]))
			return []byte(string(sub[1]) + strconv.Itoa(n+1))
		})
	})
}

// associateInUseAccepted answers success where AssociateEipAddress refuses an EIP's status.
func associateInUseAccepted(next http.Handler) http.Handler {
	return intercept(next, func(p url.Values, status int, h http.Header, body []byte) (int, []byte) {
		if p.Get("Action") != "AssociateEipAddress" || !bytes.Contains(body, []byte("IncorrectEipStatus")) {
			return status, body
		}
		h.Set("Content-Type", rpc.JSON.ContentType())
		return http.StatusOK, []byte(`{"RequestId":"E0C0FFEE-0000-4000-8000-00000000BEEF"}`)
	})
}

// TestStatefulDryRun: a dry run has no answers to model, so the phase says why it skipped.
func TestStatefulDryRun(t *testing.T) {
	rep, err := conformance.Check(t.Context(), embedded(t, emulator.Options{}), conformance.Options{DryRun: true, Only: []string{conformance.PhaseStateful}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rep.Skipped {
		if s.Phase == conformance.PhaseStateful && s.Operation == "" && strings.Contains(s.Reason, "dry run") {
			return
		}
	}
	t.Errorf("skipped %+v; want the stateful phase skipped for the dry run", rep.Skipped)
}

// TestStatefulAllocateWithoutEipAddress: EipAddress is optional in AllocateEipAddress's
// answer; the phase then reads the address from DescribeEipAddresses and finds nothing wrong.
func TestStatefulAllocateWithoutEipAddress(t *testing.T) {
	target := embedded(t, emulator.Options{})
	target.Handler = intercept(target.Handler, func(p url.Values, status int, h http.Header, body []byte) (int, []byte) {
		if p.Get("Action") != "AllocateEipAddress" || status != http.StatusOK || !isJSON(h) {
			return status, body
		}
		var m map[string]any
		if json.Unmarshal(body, &m) != nil {
			return status, body
		}
		delete(m, "EipAddress")
		out, _ := json.Marshal(m)
		return status, out
	})
	wantClean(t, statefulOnly(t, target, 1, 25))
}

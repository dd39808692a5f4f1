package emulator_test

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eipconform/eipconform/emulator"
	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
)

var hostileSeed = flag.Uint64("hostile.seed", 1, "seed of TestHostileRequests' mutations")

func TestBodyOverMaxBody(t *testing.T) {
	const limit = 1024
	srv, c := newServer(t, emulator.Options{MaxBody: limit})
	s := exampleSigner(c)
	for _, tc := range []struct {
		name string
		size int // of the body
		ok   bool
	}{
		{"at the limit", limit, true},
		{"one byte over", limit + 1, false},
		{"a megabyte over", limit + 1<<20, false},
	} {
		p := s.sign(http.MethodPost, request("DescribeEipAddresses"))
		body := p.Encode() + "&Pad="
		if pad := tc.size - len(body); pad >= 0 {
			body += strings.Repeat("x", pad)
		} else {
			t.Fatalf("test bug: the signed request alone is %d bytes", len(body))
		}
		for _, format := range []rpc.Format{rpc.JSON, rpc.XML} {
			a := serveOne(srv, http.MethodPost, "/?Format="+string(format), rpc.FormContentType, body)
			switch {
			case tc.ok && a.Status != http.StatusOK && !(a.Error != nil && a.Error.Code == protocolRef(t, spec.ErrSignatureMismatch).Code):
				// Format in the query is not signed: a mismatch is fine, as long as the body was read.
				t.Errorf("%s (%d bytes, MaxBody %d), %s: got %d %s, want the body read", tc.name, len(body), limit, format, a.Status, a.Body)
			case !tc.ok && (a.Status < 400 || a.Status > 499):
				t.Errorf("%s (%d bytes, MaxBody %d), %s: status %d, want 4xx\nbody: %s", tc.name, len(body), limit, format, a.Status, a.Body)
			case !tc.ok && a.ErrorDecode != nil:
				t.Errorf("%s (%d bytes, MaxBody %d), %s: error body: %v\nbody: %s", tc.name, len(body), limit, format, a.ErrorDecode, a.Body)
			}
		}
	}
}

// TestOversizeBodyAnswersInTheQueryFormat: a request whose body is over MaxBody still names
// its Format in the query, and the error should come in that format.
func TestOversizeBodyAnswersInTheQueryFormat(t *testing.T) {
	srv, _ := newServer(t, emulator.Options{MaxBody: 64})
	body := "Pad=" + strings.Repeat("x", 100)
	for _, format := range []rpc.Format{rpc.XML, rpc.JSON} {
		a := serveOne(srv, http.MethodPost, "/?Action=DescribeEipAddresses&Format="+string(format), rpc.FormContentType, body)
		if a.Status < 400 || a.Status > 499 || a.ErrorDecode != nil {
			t.Errorf("POST ?Format=%s with a %d-byte body, MaxBody 64: got %d %s (%v), want a 4xx error body", format, len(body), a.Status, a.Body, a.ErrorDecode)
		}
		if got := a.Header.Get("Content-Type"); got != format.ContentType() {
			t.Errorf("POST ?Format=%s with a %d-byte body, MaxBody 64: Content-Type %q, want %q\nbody: %s", format, len(body), got, format.ContentType(), a.Body)
		}
	}
}

// pair is one name=value of a request, in the order sent.
type pair struct{ name, value string }

// hostile is one request under construction: its parameters (to be signed), then how they go
// on the wire.
type hostile struct {
	method, path string
	params       []pair
	extraQuery   string // appended raw to the query
	extraBody    string // appended raw to the body
	inBody       map[string]bool
	contentType  string
	done         []string // the mutations applied, for the failure message
}

func (h *hostile) values() url.Values {
	v := url.Values{}
	for _, p := range h.params {
		v[p.name] = append(v[p.name], p.value)
	}
	return v
}

// target and body render the request.
func (h *hostile) render() (target, body string) {
	var q, b []string
	for _, p := range h.params {
		kv := url.QueryEscape(p.name) + "=" + url.QueryEscape(p.value)
		if h.inBody[p.name] {
			b = append(b, kv)
		} else {
			q = append(q, kv)
		}
	}
	if h.extraQuery != "" {
		q = append(q, h.extraQuery)
	}
	if h.extraBody != "" {
		b = append(b, h.extraBody)
	}
	target = h.path
	if len(q) > 0 {
		target += "?" + strings.Join(q, "&")
	}
	return target, strings.Join(b, "&")
}

// describe is the request for a failure message, long values clipped, the signature hidden.
func (h *hostile) describe() string {
	target, body := h.render()
	clip := func(s string) string {
		if len(s) > 300 {
			return fmt.Sprintf("%s...(%d bytes)", s[:300], len(s))
		}
		return s
	}
	if i := strings.Index(target, "Signature="); i >= 0 {
		j := strings.IndexByte(target[i:], '&')
		if j < 0 {
			j = len(target) - i
		}
		target = target[:i] + "Signature=REDACTED" + target[i+j:]
	}
	return fmt.Sprintf("%s %s Content-Type %q body %q (mutations: %s)", h.method, clip(target), h.contentType, clip(body), strings.Join(h.done, ", "))
}

func (h *hostile) pick(r *rand.Rand) int { return r.IntN(len(h.params)) }

// paramMutations change the parameters; they may come before or after signing.
var paramMutations = []struct {
	name string
	f    func(*hostile, *rand.Rand)
}{
	{"drop a parameter", func(h *hostile, r *rand.Rand) {
		if len(h.params) > 0 {
			i := h.pick(r)
			h.params = slices.Delete(h.params, i, i+1)
		}
	}},
	{"duplicate a key", func(h *hostile, r *rand.Rand) {
		if len(h.params) > 0 {
			p := h.params[h.pick(r)]
			h.params = append(h.params, pair{p.name, []string{p.value, "", "other", "0"}[r.IntN(4)]})
		}
	}},
	{"a 100k-character value", func(h *hostile, r *rand.Rand) {
		if len(h.params) > 0 {
			h.params[h.pick(r)].value = strings.Repeat(string(rune('a'+r.IntN(26))), 100_000)
		}
	}},
	{"invalid UTF-8", func(h *hostile, r *rand.Rand) {
		if len(h.params) > 0 {
			i := h.pick(r)
			h.params[i].value += "\xff\xfe\xc3"
		}
	}},
	{"invalid UTF-8 in a name", func(h *hostile, r *rand.Rand) {
		h.params = append(h.params, pair{"Name\xff", "x"})
	}},
	{"control characters", func(h *hostile, r *rand.Rand) {
		if len(h.params) > 0 {
			h.params[h.pick(r)].value = "a\x00b\x01c\r\nd\te\x7f\x1b[31m"
		}
	}},
	{"XML markup", func(h *hostile, r *rand.Rand) {
		if len(h.params) > 0 {
			h.params[h.pick(r)].value = `</Code><![CDATA[x]]>&amp;<?xml?>"'`
		}
	}},
	{"an empty value", func(h *hostile, r *rand.Rand) {
		if len(h.params) > 0 {
			h.params[h.pick(r)].value = ""
		}
	}},
	{"an unknown Action", func(h *hostile, r *rand.Rand) {
		h.set("Action", []string{"", "Nope", "allocateeipaddress", "_emulator/faults", "DescribeEipAddresses\x00", "A%zz"}[r.IntN(6)])
	}},
	{"another operation's Action", func(h *hostile, r *rand.Rand) {
		ops := spec.Default().Operations
		h.set("Action", ops[r.IntN(len(ops))].Action)
	}},
	{"XML", func(h *hostile, r *rand.Rand) { h.set("Format", "XML") }},
	{"an unknown Format", func(h *hostile, r *rand.Rand) { h.set("Format", []string{"YAML", "", "xml ", "\xff"}[r.IntN(4)]) }},
	{"a bad Version", func(h *hostile, r *rand.Rand) { h.set("Version", []string{"", "2016-04-29", "1"}[r.IntN(3)]) }},
	{"numbers at the edges", func(h *hostile, r *rand.Rand) {
		if len(h.params) > 0 {
			h.params[h.pick(r)].value = []string{"-1", "0", "9223372036854775808", "1e3", "0x10", "NaN", "+1", " 1"}[r.IntN(8)]
		}
	}},
	{"a repeated list past any limit", func(h *hostile, r *rand.Rand) {
		for i := 1; i <= 60; i++ {
			h.params = append(h.params, pair{fmt.Sprintf("SecurityProtectionTypes.%d", i), "AntiDDoS_Enhanced"})
		}
	}},
}

// wireMutations change how the request is sent; they come after signing.
var wireMutations = []struct {
	name string
	f    func(*hostile, *rand.Rand)
}{
	{`"%zz" in the raw query`, func(h *hostile, r *rand.Rand) {
		h.extraQuery = []string{"Name=%zz", "%zz=1", "Name=%", "Name=%e", "%=%"}[r.IntN(5)]
	}},
	{`"%zz" in the body`, func(h *hostile, r *rand.Rand) {
		h.method, h.contentType = http.MethodPost, rpc.FormContentType
		h.extraBody = []string{"Name=%zz", "%zz=1", "Name=%", "%=%"}[r.IntN(4)]
	}},
	{"a wrong method", func(h *hostile, r *rand.Rand) {
		h.method = []string{http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodHead, http.MethodOptions, "FOO"}[r.IntN(6)]
	}},
	{"another path", func(h *hostile, r *rand.Rand) {
		h.path = []string{"/x", "//", "/%2F", "/a%00b", "/%ff", "/_emulator", "/_emulatorx/faults", "/..", "/" + strings.Repeat("p", 5000)}[r.IntN(9)]
	}},
	{"parameters moved into a POST body", func(h *hostile, r *rand.Rand) {
		h.method, h.contentType = http.MethodPost, rpc.FormContentType
		for _, p := range h.params {
			if r.IntN(2) == 0 {
				h.inBody[p.name] = true
			}
		}
	}},
	{"a body that is not a form", func(h *hostile, r *rand.Rand) {
		h.method = http.MethodPost
		h.contentType = []string{"", "application/json", "text/plain", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded; charset=\xff", "application/x-www-form-urlencoded;;"}[r.IntN(6)]
		for _, p := range h.params {
			h.inBody[p.name] = true
		}
	}},
}

func (h *hostile) set(name, value string) {
	for i := range h.params {
		if h.params[i].name == name {
			h.params[i].value = value
			return
		}
	}
	h.params = append(h.params, pair{name, value})
}

// hostileServe sends h in-process and reports a panic as an error.
func hostileServe(srv http.Handler, h *hostile) (a answer, err error) {
	target, body := h.render()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return serveOne(srv, h.method, target, h.contentType, body), nil
}

// TestHostileRequests sends every boundary case of the spec, mutated at random (dropped and
// duplicated parameters, huge values, invalid UTF-8, control characters, malformed escapes,
// unknown actions, wrong methods and paths), with and without authentication: no answer may
// be a 5xx or a panic, and every 4xx must carry a well-formed error body.
func TestHostileRequests(t *testing.T) {
	seed := *hostileSeed
	for _, auth := range []bool{false, true} {
		name := "noauth"
		if auth {
			name = "auth"
		}
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 0x5eed))
			w := emulator.DefaultWorld()
			w.Regions[0].EipQuota = 700 // deep enough that allocations keep succeeding
			srv, c := newServer(t, emulator.Options{NoAuth: !auth, World: &w})
			s := exampleSigner(c)
			reproduce := fmt.Sprintf("go test ./emulator -run '^TestHostileRequests$/^%s$' -hostile.seed %d", name, seed)
			n, fails := 0, 0
			for _, op := range spec.Default().Operations {
				for _, cs := range op.Cases() {
					for variant := range 3 {
						h := &hostile{method: http.MethodGet, path: "/", inBody: map[string]bool{}}
						for _, k := range slices.Sorted(maps.Keys(cs.Params)) {
							for _, v := range cs.Params[k] {
								h.params = append(h.params, pair{k, v})
							}
						}
						if r.IntN(2) == 0 {
							h.method, h.contentType = http.MethodPost, rpc.FormContentType
							for _, p := range h.params {
								h.inBody[p.name] = true
							}
						}
						mutate := func(count int, wire bool) {
							for range count {
								if wire {
									m := wireMutations[r.IntN(len(wireMutations))]
									h.done = append(h.done, m.name)
									m.f(h, r)
									continue
								}
								m := paramMutations[r.IntN(len(paramMutations))]
								h.done = append(h.done, m.name)
								m.f(h, r)
							}
						}
						if variant > 0 {
							mutate(1+r.IntN(2), false)
						}
						if auth && r.IntN(4) != 0 {
							sp := s.sign(h.method, h.values())
							for _, k := range []string{rpc.ParamTimestamp, rpc.ParamSignatureMethod, rpc.ParamSignatureVersion, rpc.ParamSignatureNonce, rpc.ParamAccessKeyID, rpc.ParamSignature} {
								if !slices.ContainsFunc(h.params, func(p pair) bool { return p.name == k }) {
									h.params = append(h.params, pair{k, sp.Get(k)})
									if h.method == http.MethodPost {
										h.inBody[k] = true
									}
								}
							}
						}
						if variant == 2 {
							if r.IntN(2) == 0 {
								mutate(1, false)
							}
							mutate(1+r.IntN(2), true)
						}
						n++
						a, err := hostileServe(srv, h)
						if problem := judgeHostile(a, err); problem != "" {
							fails++
							t.Errorf("%s %s: %s\nrequest: %s\nanswer: %d %.300s\nreproduce: %s", op.Action, cs.Name, problem, h.describe(), a.Status, a.Body, reproduce)
						}
						if fails >= 20 {
							t.Fatalf("stopping after 20 failures\nreproduce: %s", reproduce)
						}
					}
				}
			}
			t.Logf("%d hostile requests, seed %d", n, seed)
		})
	}
}

// judgeHostile says what is wrong with an answer to a hostile request, or "".
func judgeHostile(a answer, err error) string {
	switch {
	case err != nil:
		return err.Error()
	case a.Status >= 500:
		return fmt.Sprintf("status %d; no request may cause a 5xx", a.Status)
	case a.Status < 200 || a.Status > 499 || a.Status > 299 && a.Status < 400:
		return fmt.Sprintf("status %d; want 2xx or 4xx", a.Status)
	case a.Status >= 400 && a.ErrorDecode != nil:
		return fmt.Sprintf("malformed error body: %v", a.ErrorDecode)
	case a.Status >= 400 && (a.Error.Code == "" || a.Error.RequestId == "" || a.Error.Message == ""):
		return "error body without Code, RequestId or Message"
	}
	return ""
}

// TestConcurrentUse runs 8 clients allocating, associating, describing, unassociating and
// releasing at once (run it with -race), then checks that exactly the EIPs that should exist
// do.
func TestConcurrentUse(t *testing.T) {
	const workers, rounds = 8, 12
	w := emulator.DefaultWorld()
	w.Regions[0].EipQuota = 100
	for i := range workers {
		w.Instances = append(w.Instances, emulator.Instance{ID: fmt.Sprintf("i-par-%d", i), RegionID: "cn-hangzhou", Status: emulator.StatusRunning, VPC: true, InternetMaxBandwidthOut: 5})
	}
	e := newEnv(t, emulator.Options{World: &w})
	call := func(action string, kv ...string) (map[string]any, error) {
		p := request(action, kv...)
		r, err := e.client.Do(context.Background(), p)
		if err != nil {
			return nil, err
		}
		if r.Status != http.StatusOK {
			return nil, fmt.Errorf("%s %v: %d %s", action, kv, r.Status, r.Body)
		}
		_, v, err := rpc.DecodeSuccess(r.Format, r.Body, opOf(action).SuccessSchema().Value)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", action, err)
		}
		return v.(map[string]any), nil
	}
	var (
		mu   sync.Mutex
		kept []string
		wg   sync.WaitGroup
	)
	errs := make(chan error, workers)
	for g := range workers {
		wg.Go(func() {
			instance := fmt.Sprintf("i-par-%d", g)
			for i := range rounds {
				a, err := call("AllocateEipAddress", "Name", fmt.Sprintf("w%d-%d", g, i))
				if err != nil {
					errs <- err
					return
				}
				id := str(a, "AllocationId")
				steps := [][]string{
					{"AssociateEipAddress", "AllocationId", id, "InstanceId", instance},
					{"DescribeEipAddresses", "AllocationId", id, "Status", "InUse"},
					{"DescribeEipMonitorData", "AllocationId", id, "StartTime", "2026-11-23T10:00:00Z", "EndTime", "2026-11-23T11:00:00Z"},
					{"UnassociateEipAddress", "AllocationId", id, "InstanceId", instance},
				}
				if i%2 == 1 {
					steps = append(steps, []string{"ReleaseEipAddress", "AllocationId", id})
				}
				for _, st := range steps {
					v, err := call(st[0], st[1:]...)
					if err != nil {
						errs <- fmt.Errorf("worker %d round %d: %v", g, i, err)
						return
					}
					if st[0] == "DescribeEipAddresses" && v["TotalCount"] != float64(1) {
						errs <- fmt.Errorf("worker %d round %d: DescribeEipAddresses(%s, InUse) TotalCount %v, want 1", g, i, id, v["TotalCount"])
						return
					}
				}
				if i%2 == 0 {
					mu.Lock()
					kept = append(kept, id)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	d := e.ok("DescribeEipAddresses", "PageSize", "50")
	if got, want := d["TotalCount"], float64(workers*rounds/2); got != want {
		t.Errorf("after %d workers × %d rounds keeping every other EIP: TotalCount %v, want %v", workers, rounds, got, want)
	}
	var got []string
	addrs := map[string]string{}
	for _, it := range d["EipAddresses"].(map[string]any)["EipAddress"].([]any) {
		m := it.(map[string]any)
		got = append(got, str(m, "AllocationId"))
		if prev, dup := addrs[str(m, "IpAddress")]; dup {
			t.Errorf("address %s held by both %s and %s", str(m, "IpAddress"), prev, str(m, "AllocationId"))
		}
		addrs[str(m, "IpAddress")] = str(m, "AllocationId")
		if str(m, "Status") != "Available" {
			t.Errorf("%s: status %s, want Available (every association was undone)", str(m, "AllocationId"), str(m, "Status"))
		}
	}
	sort.Strings(got)
	sort.Strings(kept)
	if diff := cmp.Diff(kept, got); diff != "" {
		t.Errorf("the EIPs that exist mismatch (-kept +described):\n%s", diff)
	}
}

// TestAllocateReleaseNeverRunsDry: an account that allocates and releases one EIP at a time
// holds at most one address, so allocation must keep succeeding however many cycles it runs
// (a long-lived "eipconform serve" behind an SDK's CI does exactly this). Released addresses
// may be kept for re-allocation by IpAddress, but not at the price of refusing fresh ones.
func TestAllocateReleaseNeverRunsDry(t *testing.T) {
	srv, _ := newServer(t, emulator.Options{NoAuth: true})
	const cycles = 1000 // more than the emulator's 762 addresses
	for i := range cycles {
		a := send(srv, http.MethodPost, request("AllocateEipAddress"))
		if a.Status != http.StatusOK {
			t.Fatalf("cycle %d of allocate+release, holding no EIP: AllocateEipAddress got %d %s, want 200", i+1, a.Status, a.Body)
		}
		_, v, err := rpc.DecodeSuccess(a.Format, a.Body, opOf("AllocateEipAddress").SuccessSchema().Value)
		if err != nil {
			t.Fatalf("cycle %d: %v", i+1, err)
		}
		id := str(v.(map[string]any), "AllocationId")
		if r := send(srv, http.MethodPost, request("ReleaseEipAddress", "AllocationId", id)); r.Status != http.StatusOK {
			t.Fatalf("cycle %d: ReleaseEipAddress %s got %d %s, want 200", i+1, id, r.Status, r.Body)
		}
	}
}

package fuzz_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/eipconform/eipconform/emulator"
	"github.com/eipconform/eipconform/fuzz"
	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
)

// One fuzz target per operation, against the emulator in-process (fresh after every input
// that changed its state), or against EIPCONFORM_FUZZ_ENDPOINT when it is set:
//
//	go test -run '^$' -fuzz '^FuzzAllocateEipAddress$' -fuzztime 30s -parallel 1 ./fuzz
//	make fuzz FUZZTIME=30s   # every target in turn

func FuzzAllocateEipAddress(f *testing.F)             { run(f, "AllocateEipAddress") }
func FuzzAllocatePublicIpAddress(f *testing.F)        { run(f, "AllocatePublicIpAddress") }
func FuzzAssociateEipAddress(f *testing.F)            { run(f, "AssociateEipAddress") }
func FuzzDescribeEipAddresses(f *testing.F)           { run(f, "DescribeEipAddresses") }
func FuzzDescribeEipGatewayInfo(f *testing.F)         { run(f, "DescribeEipGatewayInfo") }
func FuzzDescribeEipMonitorData(f *testing.F)         { run(f, "DescribeEipMonitorData") }
func FuzzModifyEipAddressAttribute(f *testing.F)      { run(f, "ModifyEipAddressAttribute") }
func FuzzOpenPublicIpAddressPoolService(f *testing.F) { run(f, "OpenPublicIpAddressPoolService") }
func FuzzOpenVpcIpamService(f *testing.F)             { run(f, "OpenVpcIpamService") }
func FuzzReleaseEipAddress(f *testing.F)              { run(f, "ReleaseEipAddress") }
func FuzzUnassociateEipAddress(f *testing.F)          { run(f, "UnassociateEipAddress") }

// run adds the seeds that name what newEmulator made, then fuzzes action.
func run(f *testing.F, action string) {
	target, err := fuzz.FromEnv(fuzz.Target{New: newEmulator})
	if err != nil {
		f.Fatal(err)
	}
	_, live, err := setup()
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range live.seeds(spec.Default().Operation(action)) {
		args, err := fuzz.Args(action, p)
		if err != nil {
			f.Fatalf("seed %v: %v", p, err)
		}
		f.Add(args...)
	}
	fuzz.Operation(f, target, action)
}

// now is the emulator's clock: fixed, so that every answer depends on the input alone.
var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func newEmulator() (http.Handler, error) {
	srv, _, err := setup()
	return srv, err
}

// live is what setup made in the emulator's default world, for seeds that reach past "not
// found": two EIPs in the first region, one Available and one InUse on a running instance.
type live struct {
	region    string
	available string // AllocationId of the Available EIP
	inUse     string // AllocationId of the InUse EIP
	instances []string
}

// setup returns an emulator without authentication, on the fixed clock, in the default
// world, with the EIPs of live allocated through its own API. Its IDs are the same every time.
func setup() (*emulator.Server, live, error) {
	srv, err := emulator.New(emulator.Options{NoAuth: true, Now: func() time.Time { return now }})
	if err != nil {
		return nil, live{}, err
	}
	w := srv.World()
	l := live{region: w.Regions[0].ID}
	running := w.InstancesIn(l.region, emulator.StatusRunning)
	if len(running) < 2 || len(w.NetworkInterfaces) == 0 {
		return nil, live{}, fmt.Errorf("the emulator's default world has %d running instances in %s and %d ENIs; the fuzz seeds want 2 and 1", len(running), l.region, len(w.NetworkInterfaces))
	}
	l.instances = []string{running[0].ID, running[1].ID, w.NetworkInterfaces[0].ID}
	call := func(action string, kv ...string) (map[string]any, error) {
		op := spec.Default().Operation(action)
		p := url.Values{rpc.ParamAction: {action}, rpc.ParamVersion: {op.Version}, "RegionId": {l.region}}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Set(kv[i], kv[i+1])
		}
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(rpc.EncodeForm(p)))
		r.Header.Set("Content-Type", rpc.FormContentType)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, r)
		var v map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || rec.Code != http.StatusOK {
			return nil, fmt.Errorf("setting up the fuzz emulator: %s %v: got %d %s, want 200", action, p, rec.Code, rec.Body)
		}
		return v, nil
	}
	var ids []string
	for range 2 {
		v, err := call("AllocateEipAddress")
		if err != nil {
			return nil, live{}, err
		}
		id, _ := v["AllocationId"].(string)
		ids = append(ids, id)
	}
	l.available, l.inUse = ids[0], ids[1]
	if _, err := call("AssociateEipAddress", "AllocationId", l.inUse, "InstanceId", l.instances[0]); err != nil {
		return nil, live{}, err
	}
	return srv, l, nil
}

// seeds returns op's minimal request and every boundary case with live's AllocationIds and
// instance IDs in place of the documents' example ones (where a case keeps the example value),
// every combination once: the inputs that reach past "not found" into the state rules.
func (l live) seeds(op *spec.Operation) []url.Values {
	base := op.BaseRequest()
	reqs := []url.Values{base}
	for _, c := range op.Cases() {
		reqs = append(reqs, c.Params)
	}
	var out []url.Values
	seen := map[string]bool{}
	for _, p := range reqs {
		for _, a := range l.substitutes(p, base, "AllocationId", []string{l.available, l.inUse}) {
			for _, q := range l.substitutes(a, base, "InstanceId", l.instances) {
				if q.Get(rpc.ParamVersion) != op.Version || hasEmpty(q) || rpc.EncodeForm(q) == rpc.EncodeForm(p) {
					continue // Version is fixed, the empty argument means absent, and p is a seed already
				}
				if key := rpc.EncodeForm(q); !seen[key] {
					seen[key] = true
					out = append(out, q)
				}
			}
		}
	}
	return out
}

// substitutes returns p with name set to each of ids, when p sends base's example value for
// name; else p alone.
func (l live) substitutes(p, base url.Values, name string, ids []string) []url.Values {
	if v := p.Get(name); v == "" || v != base.Get(name) {
		return []url.Values{p}
	}
	out := make([]url.Values, len(ids))
	for i, id := range ids {
		q := url.Values{}
		for k, v := range p {
			q[k] = v
		}
		q.Set(name, id)
		out[i] = q
	}
	return out
}

func hasEmpty(p url.Values) bool {
	for _, v := range p {
		if len(v) > 0 && v[0] == "" {
			return true
		}
	}
	return false
}

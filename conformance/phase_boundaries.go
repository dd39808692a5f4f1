package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"

	"github.com/eipconform/eipconform/fixtures"
	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
	"github.com/eipconform/eipconform/world"
)

func init() {
	register(phase{name: PhaseExamples, run: runExamples})
	register(phase{name: PhaseBoundaries, perOp: runBoundaries})
}

// fixture is the live state a phase works on: an EIP of its own and the resources of the
// world it uses in place of the documents' example values.
type fixture struct {
	s        *session
	phase    string
	eip      string // a live, Available (unless a case changed it) EIP of the run
	instance string // a usable Running instance for associations
	ecs      string // the instance ECS public-IP cases use
	eni      string // an ENI of the region, if any
	bound    bool   // the EIP is associated with instance
}

// newFixture picks resources for phase; index spreads phases over the world's instances.
func (s *session) newFixture(phase string, index int) *fixture {
	f := &fixture{s: s, phase: phase}
	// The last usable instance is kept for ECS public IPs, which cannot be given back and
	// would stop that instance from ever taking an EIP; associations use the others.
	usable := s.world.InstancesIn(s.region, world.StatusRunning)
	switch n := len(usable); {
	case n == 1:
		f.instance, f.ecs = usable[0].ID, usable[0].ID
	case n > 1:
		f.instance = usable[index%(n-1)].ID
		f.ecs = usable[n-1].ID
	}
	for _, n := range s.world.NetworkInterfaces {
		if n.RegionID == s.region {
			f.eni = n.ID
			break
		}
	}
	return f
}

// needsEIP reports whether the boundaries and properties phases give op's cases an EIP of
// their own: op names one (AllocationId), even where it is optional.
func needsEIP(op *spec.Operation) bool { return op.Parameter("AllocationId") != nil }

// allocate gives the fixture a fresh EIP; it returns false when the endpoint refuses.
func (f *fixture) allocate(ctx context.Context) bool {
	op := f.s.spec.Operation("AllocateEipAddress")
	resp, err := f.s.send(ctx, &request{op: op, phase: f.phase, name: "setup: allocate an EIP", params: f.s.base(op)})
	if err != nil || resp == nil || resp.Status != http.StatusOK {
		f.eip = ""
		return false
	}
	var a struct{ AllocationId string }
	if json.Unmarshal(decodeJSON(resp, op), &a) != nil || a.AllocationId == "" {
		return false
	}
	f.eip, f.bound = a.AllocationId, false
	return true
}

// sameValues reports whether two parameter sets are equal.
func sameValues(a, b url.Values) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		if vb, ok := b[k]; !ok || !slices.Equal(va, vb) {
			return false
		}
	}
	return true
}

// decodeJSON returns a success body as JSON whatever its format.
func decodeJSON(resp *rpc.Response, op *spec.Operation) []byte {
	b, err := resp.SuccessJSON(op.SuccessSchema().Value)
	if err != nil {
		return nil
	}
	return b
}

// place replaces the documents' example values in params with the fixture's live resources:
// the run's region, its EIP, its instance or ENI. Probe values (anything but the example)
// are kept.
func (f *fixture) place(op *spec.Operation, params url.Values) url.Values {
	p := url.Values{}
	for k, v := range params {
		p[k] = append([]string(nil), v...)
	}
	swap := func(name, value string) {
		param := op.Parameter(name)
		if param == nil || value == "" || p.Get(name) == "" || p.Get(name) != param.Example {
			return
		}
		p.Set(name, value)
	}
	swap("RegionId", f.s.region)
	swap("AllocationId", f.eip)
	switch op.Action {
	case "AllocatePublicIpAddress":
		swap("InstanceId", f.ecs)
	case "DescribeEipGatewayInfo":
		swap("InstanceId", f.eni)
	case "AssociateEipAddress", "UnassociateEipAddress":
		swap("InstanceId", f.instance)
	}
	return p
}

// prepare puts the fixture in the state op's cases start from: an Available EIP, associated
// for UnassociateEipAddress.
func (f *fixture) prepare(ctx context.Context, op *spec.Operation) {
	if op.Parameter("AllocationId") != nil && op.Parameter("AllocationId").Required && f.eip == "" {
		f.allocate(ctx)
	}
	if op.Action == "UnassociateEipAddress" && !f.bound && f.eip != "" {
		assoc := f.s.spec.Operation("AssociateEipAddress")
		p := f.s.base(assoc)
		p.Set("AllocationId", f.eip)
		p.Set("InstanceId", f.instance)
		if resp, err := f.s.send(ctx, &request{op: assoc, phase: f.phase, name: "setup: associate", params: p}); err == nil && resp != nil && resp.Status == http.StatusOK {
			f.bound = true
		}
	}
}

// restore undoes what an accepted case did, so the next case starts from the same state.
func (f *fixture) restore(ctx context.Context, op *spec.Operation, params url.Values, resp *rpc.Response) {
	if resp == nil || resp.Status != http.StatusOK {
		return
	}
	s := f.s
	switch op.Action {
	case "AllocateEipAddress":
		var a struct{ AllocationId string }
		if json.Unmarshal(decodeJSON(resp, op), &a) == nil && a.AllocationId != "" {
			rel := s.spec.Operation("ReleaseEipAddress")
			p := s.base(rel)
			p.Set("RegionId", params.Get("RegionId"))
			p.Set("AllocationId", a.AllocationId)
			s.send(ctx, &request{op: rel, phase: f.phase, name: "restore: release", params: p})
		}
	case "AssociateEipAddress":
		un := s.spec.Operation("UnassociateEipAddress")
		p := s.base(un)
		p.Set("AllocationId", params.Get("AllocationId"))
		p.Set("InstanceId", params.Get("InstanceId"))
		if t := params.Get("InstanceType"); t != "" {
			p.Set("InstanceType", t)
		}
		s.send(ctx, &request{op: un, phase: f.phase, name: "restore: unassociate", params: p})
	case "UnassociateEipAddress":
		f.bound = false
		f.prepare(ctx, op)
	case "ReleaseEipAddress":
		f.allocate(ctx)
	}
}

// runBoundaries sends every boundary case the oracle enumerates for the scope's operations,
// in the run's world, and judges every answer.
func runBoundaries(ctx context.Context, s *session, sc scope) error {
	index := 0
	fixtures := map[string]*fixture{}
	for _, op := range s.spec.Operations {
		fixtures[op.Action] = s.newFixture(PhaseBoundaries, index)
		index++
	}
	return s.forEachOp(ctx, PhaseBoundaries, sc, func(ctx context.Context, op *spec.Operation) error {
		cases := op.Cases()
		if !independentCases(op) || sc.workers == 1 {
			return s.boundaryCases(ctx, op, fixtures[op.Action], cases)
		}
		// Cases that share no resource run on all workers, each with its own fixture.
		var wg sync.WaitGroup
		errs := make([]error, sc.workers)
		for w := range sc.workers {
			var mine []spec.Case
			for i := w; i < len(cases); i += sc.workers {
				mine = append(mine, cases[i])
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[w] = s.boundaryCases(ctx, op, s.newFixture(PhaseBoundaries, index+w), mine)
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	})
}

// independentCases reports whether op's boundary cases can run concurrently: read-only
// operations, and operations that act on no resource of the fixture (no required
// AllocationId or InstanceId), whose accepted cases the fixture undoes one by one.
func independentCases(op *spec.Operation) bool {
	if !op.Mutates {
		return true
	}
	for _, name := range []string{"AllocationId", "InstanceId"} {
		if p := op.Parameter(name); p != nil && p.Required {
			return false
		}
	}
	return true
}

// boundaryCases sends cases one after another on fixture f, then gives its EIP back.
func (s *session) boundaryCases(ctx context.Context, op *spec.Operation, f *fixture, cases []spec.Case) error {
	{
		defer releaseFixture(ctx, f)
		f.prepare(ctx, op)
		for _, c := range cases {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			params := f.place(op, c.Params)
			v := c.Want
			if !sameValues(params, c.Params) {
				v = op.Evaluate(params, spec.Options{}) // the fixture's resources may change it
			}
			if v.Outcome != spec.Reject && buysSubscription(op, params) {
				s.rep.skip(op.Action, PhaseBoundaries, "cases that would buy a subscription (PrePaid) EIP, which no API call can release")
				continue
			}
			r := &request{op: op, phase: PhaseBoundaries, name: fmt.Sprintf("%s (rule %s)", c.Name, c.Rule), params: params, allowState: true}
			resp, err := s.send(ctx, r)
			if err != nil {
				return err
			}
			if resp == nil {
				continue
			}
			s.judge(r, resp, v)
			f.restore(ctx, op, params, resp)
		}
		return nil
	}
}

// runExamples sends the documents' sample requests (fixtures/), in the run's world, in an
// order that gives each the state it needs: allocate, describe, modify, associate, gateway
// info, monitor data, unassociate, release, ECS, the service activations.
func runExamples(ctx context.Context, s *session) error {
	samples := map[string]url.Values{}
	examples, err := fixtures.Examples()
	if err != nil {
		return err
	}
	for _, ex := range examples {
		if ex.Kind != fixtures.KindRequest {
			continue
		}
		p, err := fixtures.Request(ex)
		if err != nil {
			return err
		}
		if _, ok := samples[ex.Operation]; !ok || ex.Seed > "003" {
			samples[ex.Operation] = p
		}
	}
	f := s.newFixture(PhaseExamples, 1)
	order := []string{"AllocateEipAddress", "DescribeEipAddresses", "ModifyEipAddressAttribute", "AssociateEipAddress",
		"DescribeEipGatewayInfo", "DescribeEipMonitorData", "UnassociateEipAddress", "ReleaseEipAddress",
		"AllocatePublicIpAddress", "OpenPublicIpAddressPoolService", "OpenVpcIpamService"}
	for _, action := range order {
		op := s.spec.Operation(action)
		if op == nil || !s.selected(action, PhaseExamples, "") {
			continue
		}
		f.prepare(ctx, op)
		params := s.base(op)
		if sample, ok := samples[action]; ok {
			for k, v := range sample {
				params[k] = v
			}
			// The samples' masked and placeholder identifiers name nothing that exists.
			for _, name := range []string{"AllocationId", "InstanceId", "IpAddress"} {
				if param := op.Parameter(name); param != nil && params.Has(name) {
					params.Set(name, param.Example)
					if !param.Required && name != "InstanceId" {
						params.Del(name)
					}
				}
			}
			if action == "AllocateEipAddress" {
				params.Del("InstanceId")
			}
		}
		params = f.place(op, params)
		r := &request{op: op, phase: PhaseExamples, name: "the documents' sample request", params: params, allowState: true}
		resp, err := s.send(ctx, r)
		if err != nil {
			return err
		}
		if resp == nil {
			continue
		}
		s.judge(r, resp, op.Evaluate(params, spec.Options{}))
		switch action {
		case "AllocateEipAddress":
			var a struct{ AllocationId string }
			if resp.Status == http.StatusOK && json.Unmarshal(decodeJSON(resp, op), &a) == nil && a.AllocationId != "" {
				f.eip, f.bound = a.AllocationId, false
			}
		case "AssociateEipAddress":
			f.bound = resp.Status == http.StatusOK
		case "UnassociateEipAddress":
			f.bound = f.bound && resp.Status != http.StatusOK
		case "ReleaseEipAddress":
			if resp.Status == http.StatusOK {
				f.eip = ""
			}
		}
	}
	return nil
}

// buysSubscription reports whether an accepted request would create a subscription
// resource: one the API cannot release, and one that costs money on a real account.
func buysSubscription(op *spec.Operation, params url.Values) bool {
	p := op.Parameter("InstanceChargeType")
	if p == nil {
		return false
	}
	v := params.Get("InstanceChargeType")
	if v == "" {
		v = p.Default
	}
	return v == "PrePaid"
}

package conformance_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/eipconform/eipconform/conformance"
	"github.com/eipconform/eipconform/emulator"
	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
)

// TestPropertiesAgainstTheEmulator: both properties hold for every operation of the reference
// endpoint, whatever the seed, and none gives up for want of valid inputs.
func TestPropertiesAgainstTheEmulator(t *testing.T) {
	const cases = 25
	for seed := int64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			rep := checkPhase(t, embedded(t, emulator.Options{}), conformance.Options{Seed: seed, Cases: cases, Only: []string{conformance.PhaseProperties}})
			for _, v := range rep.Errors() {
				t.Errorf("%s", v)
			}
			for _, l := range rep.Leftovers {
				t.Errorf("leftover %s: %s", l.ID, l.Reason)
			}
			for _, s := range rep.Skipped {
				if s.Phase == conformance.PhaseProperties {
					t.Errorf("skipped %s %s: %s", s.Phase, s.Operation, s.Reason)
				}
			}
			for _, op := range spec.Default().Operations {
				i := slices.IndexFunc(rep.Tallies, func(tl conformance.Tally) bool {
					return tl.Operation == op.Action && tl.Phase == conformance.PhaseProperties
				})
				if i < 0 || rep.Tallies[i].Pass < 2*cases {
					t.Errorf("%s: tally %+v, want at least %d passes (%d inputs per property)", op.Action, rep.Tallies[max(i, 0)], 2*cases, cases)
				}
			}
		})
	}
}

// TestPropertiesCatchBrokenEndpoints: each broken endpoint falsifies the property that guards
// what it breaks, which reports one violation with gopter's shrunk counterexample and the
// seed.
func TestPropertiesCatchBrokenEndpoints(t *testing.T) {
	for _, row := range []struct {
		name    string
		m       mangled
		want    found
		counter []string // in the property's counterexample
	}{
		{"Bandwidth501Accepted", mangled{in: func(method string, p url.Values) {
			if p.Get("Bandwidth") == "501" {
				p.Set("Bandwidth", "500")
				if p.Has(rpc.ParamSignature) {
					signAgain(method, p)
				}
			}
		}}, found{"AllocateEipAddress", conformance.CheckOneRuleBroken}, []string{"Bandwidth=501", "request:", "shrinks", "seed: 7"}},
		{"DescribeXMLFails", mangled{out: describeXML500}, found{"DescribeEipAddresses", conformance.CheckValidAccepted}, []string{"Format=XML", "seed: 7"}},
		{"XMLWithoutRequestId", mangled{out: dropXMLRequestID}, found{"DescribeEipAddresses", conformance.CheckValidAccepted}, []string{"Format=XML", "seed: 7"}},
	} {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			target := embedded(t, emulator.Options{})
			target.Handler = row.m.wrap(target.Handler)
			rep := checkPhase(t, target, conformance.Options{Seed: 7, Only: []string{row.want.op + "/" + conformance.PhaseProperties}})
			t.Logf("violations by operation/phase/check: %v", countViolations(rep))
			var props []conformance.Violation
			for _, v := range rep.Errors() {
				if v.Operation == row.want.op && v.Check == row.want.check {
					props = append(props, v)
				}
			}
			if len(props) != 1 {
				t.Fatalf("%d violations of %s/%s/%s, want 1 (one per falsified property):%s", len(props), row.want.op, conformance.PhaseProperties, row.want.check, dumpViolations(rep))
			}
			v := props[0]
			for _, s := range row.counter {
				if !strings.Contains(v.Counterexample, s) {
					t.Errorf("counterexample lacks %q:\n%s", s, v.Counterexample)
				}
			}
			if want := "--seed 7 --only " + row.want.op + "/" + conformance.PhaseProperties + "/" + row.want.check; !strings.Contains(v.Reproduce, want) {
				t.Errorf("Reproduce = %q, want it to contain %q", v.Reproduce, want)
			}
			// The counterexample was sent once more and judged: its response checks' own
			// violations come with it.
			judged := slices.ContainsFunc(rep.Errors(), func(o conformance.Violation) bool {
				return o.Operation == row.want.op && o.Check != row.want.check && o.Counterexample == v.Counterexample
			})
			if !judged {
				t.Errorf("no response-check violation carries the counterexample:%s", dumpViolations(rep))
			}
		})
	}
}

// TestPropertiesBreakEveryRuleAlone guards breakCases' keying: a rule reachable alone only
// through a case filed under another rule (DescribeEipMonitorData's Period.enum, broken
// alone by Period=2147483647, a Period.type case) must still be broken by the
// one-rule-broken property. An endpoint that accepts any Period is caught.
func TestPropertiesBreakEveryRuleAlone(t *testing.T) {
	op := spec.Default().Operation("DescribeEipMonitorData")
	anyPeriod := mangled{in: func(method string, p url.Values) {
		if p.Get("Action") == op.Action && p.Get("Period") != "" {
			if r := op.Evaluate(url.Values{"Action": {op.Action}, "Period": {p.Get("Period")}}, spec.Options{}); r.Outcome == spec.Reject {
				if res, ok := r.Broken("Period.enum"); ok && res == spec.Violated {
					p.Set("Period", op.Parameter("Period").Default) // accept any Period: answer as for the default
					signAgain(method, p)
				}
			}
		}
	}}
	target := embedded(t, emulator.Options{})
	target.Handler = anyPeriod.wrap(target.Handler)
	rep := checkPhase(t, target, conformance.Options{Only: []string{op.Action + "/" + conformance.PhaseProperties}, Cases: 100})
	if !(found{op.Action, conformance.CheckOneRuleBroken}).in(rep, conformance.PhaseProperties) {
		t.Errorf("an endpoint accepting any Period was not caught by %s/%s; violations: %v%s",
			conformance.PhaseProperties, conformance.CheckOneRuleBroken, countViolations(rep), dumpViolations(rep))
	}
}

package main

import (
	"strings"
	"testing"

	"github.com/eipconform/eipconform/spec"
)

// TestCheckCaseReportsInconsistencies guards the self-check itself: a case whose recorded
// verdict or intent disagrees with the oracle must be reported, with its request.
func TestCheckCaseReportsInconsistencies(t *testing.T) {
	op := spec.Default().Operation("AllocateEipAddress")
	var c spec.Case
	for _, x := range op.Cases() {
		if x.Rule == "bandwidth-prepaid" && x.Intent == spec.Violated && x.Want.Outcome == spec.Reject {
			c = x
			break
		}
	}
	if c.Rule == "" {
		t.Fatal("AllocateEipAddress has no case violating bandwidth-prepaid")
	}
	if got := checkCase(op, c); len(got) != 0 {
		t.Fatalf("checkCase(%q) = %q, want no inconsistency", c.Name, got)
	}

	wrongVerdict := c
	wrongVerdict.Want = spec.Verdict{Operation: op.Action, Outcome: spec.Accept}
	got := checkCase(op, wrongVerdict)
	if len(got) != 1 || !strings.HasPrefix(got[0], "AllocateEipAddress/"+c.Name+": got reject: ") ||
		!strings.Contains(got[0], ", want accept\n") || !strings.Contains(got[0], "request Action=AllocateEipAddress&") {
		t.Errorf("checkCase with Want accept = %q, want one message: got reject ..., want accept, and the request", got)
	}

	wrongIntent := c
	wrongIntent.Intent = spec.Satisfied
	got = checkCase(op, wrongIntent)
	want := "AllocateEipAddress/" + c.Name + ": got rule bandwidth-prepaid violated, want satisfied"
	if len(got) != 1 || !strings.HasPrefix(got[0], want) {
		t.Errorf("checkCase with Intent satisfied = %q, want one message starting %q", got, want)
	}
}

func TestSameVerdict(t *testing.T) {
	a := spec.Verdict{Outcome: spec.Reject, Errors: []spec.Expected{{Status: 400, Code: "B"}, {Status: 400, Code: "A", Rules: []string{"r"}}}}
	b := spec.Verdict{Outcome: spec.Reject, Errors: []spec.Expected{{Status: 400, Code: "A"}, {Status: 400, Code: "B", Mapping: spec.Inferred}}}
	if !sameVerdict(a, b) {
		t.Errorf("sameVerdict(%v, %v) = false, want true: same outcome and (status, code) set", a, b)
	}
	c := b
	c.Outcome = spec.Either
	if sameVerdict(a, c) {
		t.Errorf("sameVerdict(%v, %v) = true, want false: outcomes differ", a, c)
	}
	d := spec.Verdict{Outcome: spec.Reject, Errors: []spec.Expected{{Status: 404, Code: "A"}, {Status: 400, Code: "B"}}}
	if sameVerdict(a, d) {
		t.Errorf("sameVerdict(%v, %v) = true, want false: statuses differ", a, d)
	}
}

package emulator_test

import (
	"context"
	"slices"
	"testing"

	"github.com/eipconform/eipconform/emulator"
	"github.com/eipconform/eipconform/spec"
)

// TestAgreesWithTheOracle sends every boundary case the spec enumerates (1000+) to a fresh
// emulator and judges each answer with the case's verdict, strictly: where the contract
// requires a rejection, the emulator must answer one of the spec's exact codes. Where the
// contract accepts the parameters, the emulator may still refuse on state (an AllocationId
// that does not exist), but only with one of the operation's state-rule errors.
func TestAgreesWithTheOracle(t *testing.T) {
	e := newEnv(t, emulator.Options{NoAuth: true})
	n := 0
	for _, op := range spec.Default().Operations {
		var stateErrs []spec.ErrorRef
		for _, r := range op.StateRules {
			if r.Error != nil {
				stateErrs = append(stateErrs, *r.Error)
			}
		}
		for _, c := range op.Cases() {
			n++
			resp, err := e.client.Do(context.Background(), c.Params)
			if err != nil {
				t.Fatalf("%s %s: %v", op.Action, c.Name, err)
			}
			code := ""
			if resp.Error != nil {
				code = resp.Error.Code
			}
			if resp.Status >= 500 {
				t.Errorf("%s %s: got %d %s; no case may cause a 5xx\nrequest: %s", op.Action, c.Name, resp.Status, code, c.Params.Encode())
				continue
			}
			j := c.Want.Judge(resp.Status, code, true)
			if j.OK {
				continue
			}
			if c.Want.Outcome != spec.Reject && slices.Contains(stateErrs, spec.ErrorRef{Status: resp.Status, Code: code}) {
				continue // valid parameters, refused on state
			}
			t.Errorf("%s %s (rule %s): %s\nrequest: %s\nbody: %s", op.Action, c.Name, c.Rule, j.Reason, c.Params.Encode(), resp.Body)
		}
	}
	if n < 1000 {
		t.Errorf("only %d boundary cases; the spec enumerates more than 1000", n)
	}
}

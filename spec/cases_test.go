package spec_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/eipconform/eipconform/spec"
	"github.com/google/go-cmp/cmp"
)

// TestCasesAgreeWithOracle checks every enumerated boundary case: what the case was built to
// do to its rule (by construction: min-1 breaks a range, a second exclusive parameter breaks
// the exclusion, ...) is what the oracle finds.
func TestCasesAgreeWithOracle(t *testing.T) {
	for _, op := range spec.Default().Operations {
		t.Run(op.Action, func(t *testing.T) {
			cases := op.Cases()
			if len(cases) == 0 {
				t.Fatalf("%s: no cases", op.Action)
			}
			for _, c := range cases {
				got, ok := c.Want.Broken(c.Rule)
				if !ok {
					got = spec.Satisfied
				}
				if got != c.Intent {
					t.Errorf("%s %s (rule %s): oracle finds %s, case was built as %s\nparams: %s\nverdict: %s",
						op.Action, c.Name, c.Rule, got, c.Intent, c.Params.Encode(), c.Want)
				}
				if again := op.Evaluate(c.Params, spec.Options{}); !cmp.Equal(again, c.Want) {
					t.Errorf("%s %s: Evaluate is not deterministic (-first +second):\n%s", op.Action, c.Name, cmp.Diff(c.Want, again))
				}
			}
		})
	}
}

// TestEveryRuleIsProbedBothWays requires, for every rule, a case inside it and a case that
// breaks it (or lands in its ambiguity).
func TestEveryRuleIsProbedBothWays(t *testing.T) {
	for _, op := range spec.Default().Operations {
		inside, outside := map[string]int{}, map[string]int{}
		for _, c := range op.Cases() {
			if c.Intent == spec.Satisfied {
				inside[c.Rule]++
			} else {
				outside[c.Rule]++
			}
		}
		for _, r := range op.Rules {
			if r.Auth {
				continue // the signature parameters are probed by the protocol phase
			}
			if inside[r.ID] == 0 || outside[r.ID] == 0 {
				t.Errorf("%s rule %s (%s): %d cases inside, %d outside; want at least one of each",
					op.Action, r.ID, r.Check.String(), inside[r.ID], outside[r.ID])
			}
		}
	}
}

// TestBandwidthCasesCoverEveryCombination pins the enumeration the issue names: Bandwidth
// 0/1/200/201/500/501/1000/1001 under every charge-type combination.
func TestBandwidthCasesCoverEveryCombination(t *testing.T) {
	op := spec.Default().Operation("AllocateEipAddress")
	got := map[string]bool{}
	for _, c := range op.Cases() {
		if strings.HasPrefix(c.Rule, "bandwidth-") {
			got[fmt.Sprintf("%s|%s|%s", c.Params.Get("Bandwidth"), c.Params.Get("InstanceChargeType"), c.Params.Get("InternetChargeType"))] = true
		}
	}
	for _, bw := range []string{"0", "1", "200", "201", "500", "501", "1000", "1001"} {
		for _, ict := range []string{"", "PostPaid", "PrePaid"} {
			for _, itc := range []string{"", "PayByBandwidth", "PayByTraffic"} {
				if k := bw + "|" + ict + "|" + itc; !got[k] {
					t.Errorf("no Bandwidth case for Bandwidth=%s InstanceChargeType=%q InternetChargeType=%q", bw, ict, itc)
				}
			}
		}
	}
}

func TestCasesAreDeterministic(t *testing.T) {
	for _, op := range spec.Default().Operations {
		a, b := op.Cases(), op.Cases()
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("%s: Cases differ between calls (-first +second):\n%s", op.Action, diff)
		}
	}
}

// TestDocListsEveryAmbiguity keeps the package documentation's list of ambiguities true.
func TestDocListsEveryAmbiguity(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	for _, a := range spec.Default().Ambiguities {
		id := a.ID
		if a.Operation != "" {
			id = strings.TrimPrefix(id, a.Operation+".")
			if !strings.Contains(text, a.Operation) {
				t.Errorf("doc.go does not mention operation %s of ambiguity %s", a.Operation, a.ID)
			}
		}
		switch {
		case strings.HasSuffix(id, ".codes"):
			if !strings.Contains(text, "(.codes)") && !strings.Contains(text, id) {
				t.Errorf("doc.go does not list ambiguity %s (%s)", a.ID, a.Summary)
			}
		case strings.HasPrefix(id, "Format.") || strings.HasSuffix(id, "RegionId.required.variant"):
			// listed under "Every operation" and samples-without-regionid
		case !strings.Contains(text, id):
			t.Errorf("doc.go does not list ambiguity %s: %s", a.ID, a.Summary)
		}
	}
}

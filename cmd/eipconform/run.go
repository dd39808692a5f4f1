package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/eipconform/eipconform/spec"
)

var runCommand = command{
	name:    "run",
	args:    "[--seed N]",
	summary: "the main job; today the contract self-check",
	doc: `Run is the main job. Until the conformance engine and the emulator arrive, it runs the
contract self-check that the endpoint phases build on: the contract enumerates, for every
operation, the boundary and off-by-one cases of every rule; the oracle evaluates each case
again, and both its verdict and the case's intent (satisfy its rule, violate it, or land
where the documents disagree) must match what the case records. It exits 1 if any case is
inconsistent.
`,
	flags: runFlags,
}

func runFlags(fs *flag.FlagSet) func(io.Writer) error {
	seed := fs.Int64("seed", 1, "the run's random seed `N`, printed for the reproduce line")
	return func(stdout io.Writer) error { return selfCheck(stdout, spec.Default(), *seed) }
}

// tally counts one operation's cases.
type tally struct {
	cases, accept, reject, either, inconsistent int
}

func (t *tally) add(u tally) {
	t.cases += u.cases
	t.accept += u.accept
	t.reject += u.reject
	t.either += u.either
	t.inconsistent += u.inconsistent
}

// selfCheck checks every boundary case of s against the oracle and writes the report to w.
// It returns an error if any case is inconsistent.
func selfCheck(w io.Writer, s *spec.Spec, seed int64) error {
	start := time.Now()
	fmt.Fprintln(w, "eipconform run: contract self-check (endpoint phases arrive with the conformance engine)")
	fmt.Fprintf(w, "seed %d; %d operations; each boundary case's verdict and intent against the oracle\n\n", seed, len(s.Operations))

	tw := newTable(w)
	fmt.Fprintln(tw, "OPERATION\tCASES\tACCEPT\tREJECT\tEITHER\tINCONSISTENT")
	var total tally
	var problems []string
	for _, op := range sortedOperations(s) {
		var t tally
		for _, c := range op.Cases() {
			t.cases++
			switch c.Want.Outcome {
			case spec.Accept:
				t.accept++
			case spec.Reject:
				t.reject++
			case spec.Either:
				t.either++
			}
			if p := checkCase(op, c); len(p) > 0 {
				t.inconsistent++
				problems = append(problems, p...)
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", op.Action, t.cases, t.accept, t.reject, t.either, t.inconsistent)
		total.add(t)
	}
	fmt.Fprintf(tw, "TOTAL\t%d\t%d\t%d\t%d\t%d\n", total.cases, total.accept, total.reject, total.either, total.inconsistent)
	tw.Flush()

	if len(problems) > 0 {
		fmt.Fprintf(w, "\nInconsistencies (%d cases):\n", total.inconsistent)
		for _, p := range problems {
			fmt.Fprintln(w, p)
		}
	}
	fmt.Fprintf(w, "\n%d cases, %d inconsistent, elapsed %s\n", total.cases, total.inconsistent, time.Since(start).Round(time.Microsecond))
	if total.inconsistent > 0 {
		return fmt.Errorf("%d of %d cases inconsistent; reproduce: eipconform run --seed %d", total.inconsistent, total.cases, seed)
	}
	return nil
}

// checkCase evaluates a case again and returns one message per way it is inconsistent: its
// recorded verdict differs from the oracle's, or its intent from the rule's finding.
func checkCase(op *spec.Operation, c spec.Case) []string {
	got := op.Evaluate(c.Params, spec.Options{})
	where := fmt.Sprintf("%s/%s", op.Action, c.Name)
	repro := fmt.Sprintf("    rule %s; request %s", c.Rule, c.Params.Encode())
	var out []string
	if !sameVerdict(got, c.Want) {
		out = append(out, fmt.Sprintf("%s: got %s, want %s\n%s", where, got, c.Want, repro))
	}
	if finding, _ := got.Broken(c.Rule); finding != c.Intent {
		out = append(out, fmt.Sprintf("%s: got rule %s %s, want %s\n%s", where, c.Rule, finding, c.Intent, repro))
	}
	return out
}

// sameVerdict reports whether two verdicts have the same outcome and the same acceptable
// (status, code) pairs.
func sameVerdict(a, b spec.Verdict) bool {
	return a.Outcome == b.Outcome && slices.Equal(verdictRefs(a), verdictRefs(b))
}

func verdictRefs(v spec.Verdict) []spec.ErrorRef {
	refs := make([]spec.ErrorRef, len(v.Errors))
	for i, e := range v.Errors {
		refs[i] = e.Ref()
	}
	slices.SortFunc(refs, compareRefs)
	return slices.Compact(refs)
}

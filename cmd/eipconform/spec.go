package main

import (
	"bufio"
	"cmp"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/eipconform/eipconform/spec"
)

var specCommand = command{
	name:    "spec",
	args:    "[--file PATH] [--openapi | --op ACTION]",
	summary: "show the contract: operations, rules, error codes, ambiguities",
	doc: `Spec loads the contract, the embedded one or the file given with --file, and prints
one line per operation, every operation's error codes, the protocol errors and the
ambiguities. With --op it prints one operation in detail: parameters, rules, state rules,
error table and ambiguities. With --openapi it writes the OpenAPI document as JSON and
nothing else, for other OpenAPI tools.
`,
	flags: specFlags,
}

func specFlags(fs *flag.FlagSet) func(io.Writer) error {
	file := fs.String("file", "", "load the contract from `PATH` (YAML or JSON) instead of the embedded one")
	openapi := fs.Bool("openapi", false, "write the OpenAPI document as JSON, nothing else")
	action := fs.String("op", "", "show the operation `ACTION` in detail")
	return func(stdout io.Writer) error {
		if *openapi && *action != "" {
			return &usageError{msg: "--openapi and --op cannot be combined"}
		}
		s, err := loadSpec(*file)
		if err != nil {
			return err
		}
		if *openapi {
			data, err := s.JSON()
			if err != nil {
				return fmt.Errorf("encoding the OpenAPI document: %v", err)
			}
			_, err = stdout.Write(append(data, '\n'))
			return err
		}
		w := bufio.NewWriter(stdout)
		if *action != "" {
			op := s.Operation(*action)
			if op == nil {
				return fmt.Errorf("no operation %s; known: %s", *action, strings.Join(actions(s), ", "))
			}
			writeOperation(w, op)
		} else {
			writeSummary(w, s)
		}
		return w.Flush()
	}
}

// loadSpec returns the embedded contract, or the one in path if it is not empty.
func loadSpec(path string) (*spec.Spec, error) {
	if path == "" {
		return spec.Default(), nil
	}
	return spec.LoadFile(path)
}

func actions(s *spec.Spec) []string {
	out := make([]string, 0, len(s.Operations))
	for _, op := range s.Operations {
		out = append(out, op.Action)
	}
	slices.Sort(out)
	return out
}

// sortedOperations returns the operations sorted by action.
func sortedOperations(s *spec.Spec) []*spec.Operation {
	return slices.SortedFunc(slices.Values(s.Operations), func(a, b *spec.Operation) int {
		return strings.Compare(a.Action, b.Action)
	})
}

// errorRefs returns the distinct (status, code) pairs of the operation's error table, sorted.
func errorRefs(op *spec.Operation) []spec.ErrorRef {
	refs := make([]spec.ErrorRef, 0, len(op.Errors))
	for _, e := range op.Errors {
		refs = append(refs, e.Ref())
	}
	slices.SortFunc(refs, compareRefs)
	return slices.Compact(refs)
}

func compareRefs(a, b spec.ErrorRef) int {
	return cmp.Or(cmp.Compare(a.Status, b.Status), strings.Compare(a.Code, b.Code))
}

func apiParams(op *spec.Operation) int {
	n := 0
	for _, p := range op.Parameters {
		if !p.Common {
			n++
		}
	}
	return n
}

// writeSummary writes the overview of the whole contract.
func writeSummary(w io.Writer, s *spec.Spec) {
	ops := sortedOperations(s)
	tw := newTable(w)
	fmt.Fprintln(tw, "OPERATION\tPRODUCT\tVERSION\tPARAMS\tRULES\tSTATE\tERRORS\tAMBIGUOUS")
	var params, rules, state, errs, amb int
	for _, op := range ops {
		row := []int{apiParams(op), len(op.Rules), len(op.StateRules), len(errorRefs(op)), len(op.Ambiguities)}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n", op.Action, op.Product, op.Version, row[0], row[1], row[2], row[3], row[4])
		params, rules, state, errs, amb = params+row[0], rules+row[1], state+row[2], errs+row[3], amb+row[4]
	}
	fmt.Fprintf(tw, "TOTAL\t%d products\t\t%d\t%d\t%d\t%d\t%d\n", len(s.Products), params, rules, state, errs, amb)
	tw.Flush()

	fmt.Fprintln(w, "\nError codes:")
	for _, op := range ops {
		refs := errorRefs(op)
		codes := make([]string, len(refs))
		for i, r := range refs {
			codes[i] = r.String()
		}
		fmt.Fprintf(w, "  %s: %s\n", op.Action, strings.Join(codes, ", "))
	}

	fmt.Fprintln(w, "\nProtocol errors:")
	tw = newTable(w)
	pes := slices.Clone(s.ProtocolErrors)
	slices.SortFunc(pes, func(a, b spec.ProtocolError) int {
		return cmp.Or(compareRefs(a.Ref(), b.Ref()), strings.Compare(a.ID, b.ID))
	})
	for _, e := range pes {
		fmt.Fprintf(tw, "  %d\t%s\t%s\n", e.Status, e.Code, e.ID)
	}
	tw.Flush()

	fmt.Fprintf(w, "\nAmbiguities (%d):\n", len(s.Ambiguities))
	tw = newTable(w)
	for _, a := range sortedAmbiguities(s.Ambiguities) {
		fmt.Fprintf(tw, "  %s\t%s\n", a.ID, oneLine(a.Summary))
	}
	tw.Flush()
}

func sortedAmbiguities(as []spec.Ambiguity) []spec.Ambiguity {
	return slices.SortedFunc(slices.Values(as), func(a, b spec.Ambiguity) int { return strings.Compare(a.ID, b.ID) })
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

// oneLine collapses runs of white space, so that a cell stays on its line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

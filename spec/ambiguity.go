package spec

import (
	"fmt"
	"strings"
)

// ambiguities lists the operation's ambiguities, derived from its rules: variants from other
// documents, rules the documents leave open, and codes only another document gives.
func (op *Operation) ambiguities() []Ambiguity {
	var out []Ambiguity
	for _, r := range op.Rules {
		id := op.Action + "." + r.ID
		if r.Ambiguous != "" {
			out = append(out, Ambiguity{
				ID: id, Operation: op.Action, Subject: strings.Join(r.Params, ", "),
				Summary:  r.Ambiguous,
				Expected: r.Check.String() + ", else " + r.Error.String(),
				Accepts:  "success or " + r.Error.String() + " where the check fails",
				Sources:  []AmbiguitySrc{{Source: r.Source, Says: r.Quote}},
			})
		}
		for i, v := range r.Variants {
			vid := id + ".variant"
			if len(r.Variants) > 1 {
				vid = fmt.Sprintf("%s.variant%d", id, i+1)
			}
			theirs := "no such rule"
			if v.Check != nil {
				theirs = v.Check.String()
			}
			out = append(out, Ambiguity{
				ID: vid, Operation: op.Action, Subject: strings.Join(r.Params, ", "),
				Summary:  fmt.Sprintf("%s says %s where the expected rule is %s.", v.Source, theirs, r.Check.String()),
				Expected: r.Check.String() + " (" + r.Source + ")",
				Accepts:  "success or " + r.Error.String() + " where the two disagree",
				Sources:  []AmbiguitySrc{{Source: r.Source, Says: r.Quote}, {Source: v.Source, Says: v.Says}},
			})
		}
		if len(r.AlsoAccept) > 0 && !r.Derived {
			out = append(out, altAmbiguity(op, id+".codes", strings.Join(r.Params, ", "), r.Error, r.Source, r.AlsoAccept))
		}
	}
	for _, p := range op.Parameters {
		if len(p.AlsoAccept) > 0 && p.Violation != nil {
			out = append(out, altAmbiguity(op, op.Action+"."+p.Name+".codes", p.Name,
				ErrorRef{Status: p.Violation.Status, Code: p.Violation.Code}, p.Violation.Source, p.AlsoAccept))
		}
	}
	return out
}

func altAmbiguity(op *Operation, id, subject string, want ErrorRef, source string, alts []AltError) Ambiguity {
	codes := make([]string, len(alts))
	srcs := []AmbiguitySrc{{Source: source, Says: want.String()}}
	for i, a := range alts {
		ref := ErrorRef{Status: a.Status, Code: a.Code}
		codes[i] = ref.String()
		srcs = append(srcs, AmbiguitySrc{Source: a.Source, Says: ref.String()})
	}
	return Ambiguity{
		ID: id, Operation: op.Action, Subject: subject,
		Summary:  fmt.Sprintf("The seeds map a violation to %s; the current metadata also lists %s.", want, strings.Join(codes, ", ")),
		Expected: want.String(),
		Accepts:  "any of " + want.String() + ", " + strings.Join(codes, ", "),
		Sources:  srcs,
	}
}

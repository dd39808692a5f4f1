package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/eipconform/eipconform/spec"
)

// writeOperation writes everything the contract says about one operation.
func writeOperation(w io.Writer, op *spec.Operation) {
	path, _ := op.OpenAPI()
	fmt.Fprintf(w, "%s (%s %s, %s)\n", op.Action, op.Product, op.Version, path)
	if op.Summary != "" {
		fmt.Fprintln(w, oneLine(op.Summary))
	}
	if len(op.Sources) > 0 {
		fmt.Fprintf(w, "Sources: %s\n", strings.Join(op.Sources, ", "))
	}

	fmt.Fprintf(w, "\nParameters (%d, %d API-specific; common ones marked):\n", len(op.Parameters), apiParams(op))
	tw := newTable(w)
	fmt.Fprintln(tw, "  NAME\tTYPE\tREQUIRED\tDEFAULT\tENUM\tRANGE\tLENGTH\tPATTERN")
	for _, p := range op.Parameters {
		name := p.Name
		if p.Common {
			name += " (common)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, paramType(p), required(p),
			defaultValue(p), dash(paramEnum(p), true), interval(p.Minimum, p.Maximum),
			interval(intPtr(p.MinLength), intPtr(p.MaxLength)), dash(paramFormat(p), true))
	}
	tw.Flush()

	fmt.Fprintf(w, "\nRules (%d):\n", len(op.Rules))
	tw = newTable(w)
	fmt.Fprintln(tw, "  ID\tCHECK\tWHEN\tERROR\tMAPPING\tSOURCE\tNOTES")
	for _, r := range op.Rules {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Check.String(), dash(conditions(r.When), true),
			r.Error, r.Mapping, r.Source, dash(ruleNotes(r), true))
	}
	tw.Flush()

	fmt.Fprintf(w, "\nState rules (%d):\n", len(op.StateRules))
	tw = newTable(w)
	fmt.Fprintln(tw, "  ID\tKIND\tERROR\tMAPPING\tSOURCE\tSUMMARY")
	for _, r := range op.StateRules {
		e := "-"
		if r.Error != nil {
			e = r.Error.String()
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Kind, e, r.Mapping, r.Source, oneLine(r.Summary))
	}
	tw.Flush()

	fmt.Fprintf(w, "\nErrors (%d rows, %d distinct status and code):\n", len(op.Errors), len(errorRefs(op)))
	tw = newTable(w)
	fmt.Fprintln(tw, "  STATUS\tCODE\tSOURCE\tMESSAGE")
	for _, e := range op.Errors {
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\n", e.Status, e.Code, e.Source, dash(oneLine(e.Message), true))
	}
	tw.Flush()

	fmt.Fprintf(w, "\nAmbiguities (%d):\n", len(op.Ambiguities))
	for _, a := range sortedAmbiguities(op.Ambiguities) {
		fmt.Fprintf(w, "  %s: %s\n", a.ID, oneLine(a.Summary))
		if a.Expected != "" {
			fmt.Fprintf(w, "      expected: %s\n", oneLine(a.Expected))
		}
		if a.Accepts != "" {
			fmt.Fprintf(w, "      accepts: %s\n", oneLine(a.Accepts))
		}
	}
}

func paramType(p *spec.Parameter) string {
	switch p.Type {
	case spec.Integer:
		if p.Format != "" {
			return "integer/" + p.Format
		}
	case spec.List:
		return fmt.Sprintf("list (max %d)", p.MaxItems)
	case spec.ObjectList:
		return fmt.Sprintf("object-list {%s} (max %d)", strings.Join(p.Fields, ", "), p.MaxItems)
	}
	return string(p.Type)
}

func required(p *spec.Parameter) string {
	switch {
	case p.Required && p.Auth:
		return "auth" // only when the endpoint authenticates
	case p.Required:
		return "yes"
	}
	return "no"
}

func defaultValue(p *spec.Parameter) string {
	if p.HasDefault && p.Default == "" {
		return `""`
	}
	return dash(p.Default, p.HasDefault)
}

// paramEnum returns the allowed values, or those of a repeated parameter's items or fields.
func paramEnum(p *spec.Parameter) string {
	if len(p.Enum) > 0 {
		return strings.Join(p.Enum, "|")
	}
	if vs := p.FieldEnums[""]; len(vs) > 0 {
		return strings.Join(vs, "|")
	}
	var parts []string
	for _, f := range p.Fields {
		if vs := p.FieldEnums[f]; len(vs) > 0 {
			parts = append(parts, f+": "+strings.Join(vs, "|"))
		}
	}
	return strings.Join(parts, "; ")
}

// paramFormat returns the pattern and the other format constraints of a parameter.
func paramFormat(p *spec.Parameter) string {
	var parts []string
	if p.Pattern != "" {
		parts = append(parts, p.Pattern)
	}
	if len(p.NotPrefix) > 0 {
		parts = append(parts, "not starting with "+strings.Join(p.NotPrefix, " or "))
	}
	if p.TimeLayout != "" {
		parts = append(parts, "time "+p.TimeLayout)
	}
	return strings.Join(parts, "; ")
}

func conditions(cs []spec.Condition) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.String()
	}
	return strings.Join(parts, " and ")
}

// ruleNotes says where a rule is ambiguous and which other codes it accepts.
func ruleNotes(r *spec.Rule) string {
	var notes []string
	if r.Ambiguous != "" {
		notes = append(notes, "ambiguous: "+oneLine(r.Ambiguous))
	}
	for _, v := range r.Variants {
		says := "has no such rule"
		if v.Check != nil {
			says = "says " + v.Check.String()
		}
		notes = append(notes, "ambiguous: "+v.Source+" "+says)
	}
	for _, a := range r.AlsoAccept {
		notes = append(notes, fmt.Sprintf("also accepts %d %s (%s)", a.Status, a.Code, a.Source))
	}
	return strings.Join(notes, "; ")
}

// interval writes a range as "[min, max]", "-" when there is none.
func interval(lo, hi *int64) string {
	if lo == nil && hi == nil {
		return "-"
	}
	b := func(p *int64) string {
		if p == nil {
			return "-"
		}
		return strconv.FormatInt(*p, 10)
	}
	return "[" + b(lo) + ", " + b(hi) + "]"
}

func intPtr(p *int) *int64 {
	if p == nil {
		return nil
	}
	v := int64(*p)
	return &v
}

// dash returns s, or "-" when s is not set or empty, so that no table cell is blank.
func dash(s string, set bool) string {
	if !set || s == "" {
		return "-"
	}
	return s
}

package spec

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Options tune what the oracle requires.
type Options struct {
	// Auth is true when the endpoint authenticates: the signature parameters are then
	// required and checked. Emulator-style endpoints run without it.
	Auth bool
}

// Outcome is what the contract requires of an endpoint for one request.
type Outcome int

// Outcomes.
const (
	Accept Outcome = iota // a 2xx success
	Reject                // an error with one of the Verdict's Errors
	Either                // ambiguous: success, or one of the Verdict's Errors
)

func (o Outcome) String() string {
	switch o {
	case Reject:
		return "reject"
	case Either:
		return "either"
	}
	return "accept"
}

// Verdict is the oracle's answer for one request.
type Verdict struct {
	Operation string
	Outcome   Outcome
	// Errors are the acceptable errors, sorted by status and code; several rules can be
	// broken at once and the endpoint may report any of them.
	Errors []Expected
	// Findings are the rules that are broken or ambiguous for this request, sorted by rule.
	Findings []Finding
}

// Expected is one acceptable error.
type Expected struct {
	Status  int
	Code    string
	Mapping Mapping
	// Rules are the IDs of the rules that map to this error.
	Rules []string
	// Ambiguous is true when the error is acceptable only under an ambiguous reading (a
	// variant, or a code only another document gives).
	Ambiguous bool
}

// Ref returns the (status, code) pair.
func (e Expected) Ref() ErrorRef { return ErrorRef{Status: e.Status, Code: e.Code} }

// Finding is one broken or ambiguous rule.
type Finding struct {
	Rule   string
	Result Result
	Why    string
}

// String renders the verdict for failure messages, e.g.
// "reject: 400 InvalidParameter (documented; bandwidth-prepaid)".
func (v Verdict) String() string {
	if v.Outcome == Accept {
		return "accept"
	}
	parts := make([]string, 0, len(v.Errors))
	for _, e := range v.Errors {
		s := fmt.Sprintf("%d %s (%s; %s)", e.Status, e.Code, e.Mapping, strings.Join(e.Rules, ", "))
		if e.Ambiguous {
			s += " [ambiguous]"
		}
		parts = append(parts, s)
	}
	return v.Outcome.String() + ": " + strings.Join(parts, " | ")
}

// Broken reports whether the rule with the given ID is broken (violated or ambiguous).
func (v Verdict) Broken(ruleID string) (Result, bool) {
	for _, f := range v.Findings {
		if f.Rule == ruleID {
			return f.Result, true
		}
	}
	return Satisfied, false
}

// Allows reports whether the verdict accepts an error answer with (status, code).
func (v Verdict) Allows(status int, code string) bool {
	for _, e := range v.Errors {
		if e.Status == status && e.Code == code {
			return true
		}
	}
	return false
}

// Judgement is the verdict applied to an endpoint's answer.
type Judgement struct {
	OK bool
	// Ambiguous is true when the answer was accepted only because the contract is ambiguous
	// here, or (non-strict) because the mapping is inferred.
	Ambiguous bool
	Reason    string
}

// Judge applies the verdict to an answer: status is the HTTP status, code the error Code
// ("" for a success). A documented mapping must match exactly; an inferred one needs a 4xx
// unless strict, which requires the spec's code.
func (v Verdict) Judge(status int, code string, strict bool) Judgement {
	success := status >= 200 && status < 300
	want := v.String()
	switch {
	case success && v.Outcome == Reject:
		return Judgement{Reason: fmt.Sprintf("got %d success, want %s", status, want)}
	case success && v.Outcome == Either:
		return Judgement{OK: true, Ambiguous: true, Reason: "accepted; the contract is ambiguous here: " + v.why()}
	case success:
		return Judgement{OK: true}
	case v.Outcome == Accept:
		return Judgement{Reason: fmt.Sprintf("got %d %s, want accept", status, code)}
	}
	for _, e := range v.Errors {
		if e.Status == status && e.Code == code {
			return Judgement{OK: true, Ambiguous: e.Ambiguous || v.Outcome == Either}
		}
	}
	if status >= 400 && status < 500 && !strict {
		for _, e := range v.Errors {
			if e.Mapping == Inferred {
				return Judgement{OK: true, Ambiguous: true,
					Reason: fmt.Sprintf("got %d %s; the mapping is inferred, --strict wants %s", status, code, want)}
			}
		}
	}
	return Judgement{Reason: fmt.Sprintf("got %d %s, want %s", status, code, want)}
}

func (v Verdict) why() string {
	parts := make([]string, 0, len(v.Findings))
	for _, f := range v.Findings {
		parts = append(parts, f.Rule+": "+f.Why)
	}
	return strings.Join(parts, "; ")
}

// Evaluate returns what the contract requires for a whole request: it dispatches on Action,
// then applies every rule of that operation.
//
//	v := s.Evaluate(url.Values{"Action": {"AllocateEipAddress"}, "Version": {"2016-04-28"},
//		"RegionId": {"cn-hangzhou"}, "Bandwidth": {"501"}}, spec.Options{})
//	// v.Outcome == spec.Reject, v.Errors[0].Code == "InvalidParameter"
func (s *Spec) Evaluate(params url.Values, opts Options) Verdict {
	action := params.Get("Action")
	if action == "" {
		e, _ := s.ProtocolError(ErrMissingParameter)
		return protocolVerdict("", e, "Action.required", "Action is not sent")
	}
	op := s.Operation(action)
	if op == nil {
		e, _ := s.ProtocolError(ErrUnknownAction)
		return protocolVerdict(action, e, "Action.known", fmt.Sprintf("no operation %q", action))
	}
	return op.Evaluate(params, opts)
}

func protocolVerdict(op string, e ProtocolError, rule, why string) Verdict {
	return Verdict{
		Operation: op,
		Outcome:   Reject,
		Errors:    []Expected{{Status: e.Status, Code: e.Code, Mapping: e.Mapping, Rules: []string{rule}}},
		Findings:  []Finding{{Rule: rule, Result: Violated, Why: why}},
	}
}

// Evaluate returns what the contract requires of this operation for params (wire names:
// Name, Name.N, Name.N.Field). Parameters it does not know are ignored, as the service does.
// An optional parameter sent with an empty value is treated as absent; where treating it as
// a value would break a rule, that rule's error is also accepted (ambiguity
// empty-optional-value).
func (op *Operation) Evaluate(params url.Values, opts Options) Verdict {
	base := newInput(op, params, false)
	results := op.evalAll(base, opts)
	var findings []Finding // in rule order
	if base.hasEmpty {
		alt := op.evalAll(newInput(op, params, true), opts)
		for i := range op.Rules {
			if alt[i] != Satisfied && results[i] == Satisfied {
				results[i] = -Ambiguous // marks "ambiguous through an empty value"
			}
		}
	}
	for i, r := range op.Rules {
		switch res := results[i]; res {
		case Satisfied:
		case -Ambiguous:
			findings = append(findings, Finding{Rule: r.ID, Result: Ambiguous,
				Why: r.describe() + ", if an empty value counts as sent (ambiguity empty-optional-value)"})
		default:
			findings = append(findings, Finding{Rule: r.ID, Result: res, Why: r.describe()})
		}
	}
	return op.verdict(findings)
}

// evalAll judges every rule; the results are in the order of op.Rules.
func (op *Operation) evalAll(in *input, opts Options) []Result {
	out := make([]Result, len(op.Rules))
	for i, r := range op.Rules {
		out[i] = r.eval(in, opts)
	}
	return out
}

func (op *Operation) verdict(findings []Finding) Verdict {
	v := Verdict{Operation: op.Action, Outcome: Accept}
	if len(findings) == 0 {
		return v
	}
	type key struct {
		status int
		code   string
	}
	exp := map[key]*Expected{}
	add := func(ref ErrorRef, m Mapping, rule string, ambiguous bool) {
		k := key{ref.Status, ref.Code}
		e := exp[k]
		if e == nil {
			e = &Expected{Status: ref.Status, Code: ref.Code, Mapping: m, Ambiguous: ambiguous}
			exp[k] = e
		}
		if m == Documented {
			e.Mapping = Documented
		}
		e.Ambiguous = e.Ambiguous && ambiguous
		if !slices.Contains(e.Rules, rule) {
			e.Rules = append(e.Rules, rule)
		}
	}
	for _, f := range findings {
		r := op.Rule(f.Rule)
		v.Findings = append(v.Findings, f)
		if f.Result == Violated {
			v.Outcome = Reject
		} else if v.Outcome == Accept {
			v.Outcome = Either
		}
		add(r.Error, r.Mapping, r.ID, false)
		for _, a := range r.AlsoAccept {
			add(ErrorRef{Status: a.Status, Code: a.Code}, r.Mapping, r.ID, true)
		}
	}
	for _, e := range exp {
		sort.Strings(e.Rules)
		v.Errors = append(v.Errors, *e)
	}
	sort.Slice(v.Errors, func(i, j int) bool {
		a, b := v.Errors[i], v.Errors[j]
		if a.Status != b.Status {
			return a.Status < b.Status
		}
		return a.Code < b.Code
	})
	return v
}

// eval judges a rule: its conditions, its check, its variants and its ambiguity.
func (r *Rule) eval(in *input, opts Options) Result {
	if r.Auth && !opts.Auth {
		return Satisfied
	}
	if !r.applies(in) {
		return Satisfied
	}
	res := r.Check.eval(in)
	if res == Violated && r.Ambiguous != "" {
		return Ambiguous
	}
	if res == Ambiguous || !r.judgesSent(in) {
		return res // a default the client did not send cannot be read two ways
	}
	if r.variantsDisagree(in, res) {
		return Ambiguous
	}
	return res
}

// variantsDisagree reports whether another document's reading of the rule breaks it where
// res does not, or the reverse.
func (r *Rule) variantsDisagree(in *input, res Result) bool {
	for _, v := range r.Variants {
		alt := Satisfied
		if !v.Disabled {
			alt = v.Check.eval(in)
		}
		if (alt == Violated) != (res == Violated) {
			return true
		}
	}
	return false
}

// judgesSent reports whether any parameter the check reads was sent.
func (r *Rule) judgesSent(in *input) bool {
	for _, p := range r.Check.subjects() {
		if in.sent(p) {
			return true
		}
	}
	return r.Check.Kind == KindPresent
}

func (r *Rule) applies(in *input) bool {
	for _, c := range r.When {
		if c.Present != nil {
			if in.sent(c.Param) != *c.Present {
				return false
			}
			continue
		}
		v, ok := in.first(c.Param, true)
		if !ok || !slices.Contains(c.In, v) {
			return false
		}
	}
	return true
}

// describe says what the rule requires, for findings.
func (r *Rule) describe() string {
	s := r.Check.String()
	if len(r.When) > 0 {
		conds := make([]string, len(r.When))
		for i, c := range r.When {
			conds[i] = c.String()
		}
		s += " when " + strings.Join(conds, " and ")
	}
	if r.Ambiguous != "" {
		s += " (ambiguous: " + r.Ambiguous + ")"
	}
	for _, v := range r.Variants {
		if v.Disabled {
			s += fmt.Sprintf(" (%s has no such rule)", v.Source)
		} else {
			s += fmt.Sprintf(" (%s: %s)", v.Source, v.Check.String())
		}
	}
	return s
}

// input is one request as the rules see it.
type input struct {
	op        *Operation
	raw       url.Values // read in place, never copied or modified
	keepEmpty bool
	hasEmpty  bool
	dotted    bool // some parameter name has a dot: repeated parameters may be present
}

// newInput reads the first value of each parameter. Empty values count as not sent unless
// keepEmpty, in which case they count as sent values.
func newInput(op *Operation, params url.Values, keepEmpty bool) *input {
	in := &input{op: op, raw: params, keepEmpty: keepEmpty}
	for k, vs := range params {
		if len(vs) > 0 && vs[0] == "" {
			in.hasEmpty = true
		}
		if strings.IndexByte(k, '.') >= 0 {
			in.dotted = true
		}
	}
	return in
}

// param returns the first value of a parameter, if it counts as sent.
func (in *input) param(name string) (string, bool) {
	vs := in.raw[name]
	if len(vs) == 0 || (vs[0] == "" && !in.keepEmpty) {
		return "", false
	}
	return vs[0], true
}

// item is one element of a repeated parameter.
type item struct {
	index  int
	value  string            // List
	fields map[string]string // ObjectList
}

func (in *input) items(p *Parameter) []item {
	if !in.dotted {
		return nil
	}
	prefix := p.Name + "."
	byIndex := map[int]*item{}
	for k, vs := range in.raw {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok || len(vs) == 0 || (vs[0] == "" && !in.keepEmpty) {
			continue
		}
		v := vs[0]
		idx, field, _ := strings.Cut(rest, ".")
		n, err := strconv.Atoi(idx)
		if err != nil || n < 1 || strconv.Itoa(n) != idx {
			continue
		}
		switch {
		case p.Type == List && field == "":
			byIndex[n] = &item{index: n, value: v}
		case p.Type == ObjectList && slices.Contains(p.Fields, field):
			it := byIndex[n]
			if it == nil {
				it = &item{index: n, fields: map[string]string{}}
				byIndex[n] = it
			}
			it.fields[field] = v
		}
	}
	out := make([]item, 0, len(byIndex))
	for _, it := range byIndex {
		out = append(out, *it)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].index < out[j].index })
	return out
}

// lookup resolves a rule's parameter name: "Name" or, for object lists, "Name.Field".
func (in *input) lookup(name string) (p *Parameter, field string) {
	if p := in.op.params[name]; p != nil {
		return p, ""
	}
	if base, f, ok := strings.Cut(name, "."); ok {
		if p := in.op.params[base]; p != nil && p.Type == ObjectList {
			return p, f
		}
	}
	return nil, ""
}

// values returns the values a check judges: the sent value, the default if useDefault and
// nothing was sent, or every item (field) of a repeated parameter.
func (in *input) values(name string, useDefault bool) []string {
	p, field := in.lookup(name)
	if p == nil {
		if v, ok := in.param(name); ok {
			return []string{v}
		}
		return nil
	}
	switch p.Type {
	case List:
		var out []string
		for _, it := range in.items(p) {
			out = append(out, it.value)
		}
		return out
	case ObjectList:
		var out []string
		for _, it := range in.items(p) {
			if v, ok := it.fields[field]; ok {
				out = append(out, v)
			}
		}
		return out
	}
	if v, ok := in.param(name); ok {
		return []string{v}
	}
	if useDefault && p.HasDefault {
		return []string{p.Default}
	}
	return nil
}

func (in *input) sent(name string) bool {
	_, ok := in.first(name, false)
	return ok
}

// first is values(name, useDefault)[0] without allocating for scalar parameters.
func (in *input) first(name string, useDefault bool) (string, bool) {
	if p := in.op.params[name]; p != nil && p.Type != List && p.Type != ObjectList {
		if v, ok := in.param(name); ok {
			return v, true
		}
		if useDefault && p.HasDefault {
			return p.Default, true
		}
		return "", false
	}
	vals := in.values(name, useDefault)
	if len(vals) == 0 {
		return "", false
	}
	return vals[0], true
}

// itemCount is the number of items of a repeated parameter, or its highest index if larger.
func (in *input) itemCount(name string) int {
	p, _ := in.lookup(name)
	if p == nil {
		return 0
	}
	items := in.items(p)
	n := len(items)
	if len(items) > 0 && items[len(items)-1].index > n {
		n = items[len(items)-1].index
	}
	return n
}

func (in *input) minuteTime(name string) (time.Time, bool) {
	v, sent := in.first(name, false)
	p, _ := in.lookup(name)
	if !sent || p == nil || p.TimeLayout == "" {
		return time.Time{}, false
	}
	t, ok := ParseTime(p.TimeLayout, v)
	return CeilMinute(t), ok
}

func (in *input) points(start, end, period string) (int64, bool) {
	s, ok1 := in.minuteTime(start)
	e, ok2 := in.minuteTime(end)
	pv, sent := in.first(period, true)
	if !ok1 || !ok2 || !sent || e.Before(s) {
		return 0, false
	}
	p, ok := ParseInt(pv, 32)
	if !ok || p <= 0 {
		return 0, false
	}
	return MonitorPoints(s, e, p), true
}

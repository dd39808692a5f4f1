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

// Case is one boundary or off-by-one request for a rule.
type Case struct {
	// Name is stable and descriptive, e.g.
	// "Bandwidth=501 [InstanceChargeType=PostPaid InternetChargeType=PayByBandwidth]".
	Name string
	// Rule is the ID of the rule the case probes.
	Rule string
	// Params is a complete request: Action, Version, the required parameters and the probe.
	Params url.Values
	// Intent is what the case is built to do to its rule: stay inside it (Satisfied), break
	// it (Violated), or land where the documents disagree (Ambiguous).
	Intent Result
	// Want is the oracle's verdict for Params.
	Want Verdict
}

// Cases enumerates, for every rule of the operation, its boundary and off-by-one cases under
// every combination of the conditions of the rules that check the same parameter: each
// range's min-1, min, max, max+1; each enum value and values outside it; each length at its
// edges; each character class of a pattern; each prefix; presence and absence; each
// exclusive pair; each repeated list at its maximum and one past it. The order is stable.
//
//	for _, c := range spec.Default().Operation("AllocateEipAddress").Cases() {
//		send(c.Params) // and judge the answer with c.Want.Judge
//	}
//
// The enumeration is made once per operation; every call returns a copy of it that the
// caller may change.
func (op *Operation) Cases() []Case {
	op.cases.once.Do(func() { op.cases.list = op.enumerateCases() })
	out := make([]Case, len(op.cases.list))
	for i, c := range op.cases.list {
		c.Params = cloneValues(c.Params)
		out[i] = c
	}
	return out
}

// enumerateCases makes Cases' list.
func (op *Operation) enumerateCases() []Case {
	var out []Case
	seen := map[string]bool{}
	for _, r := range op.Rules {
		if r.Auth {
			continue
		}
		group := op.group(r)
		for _, combo := range op.combos(group) {
			for _, pr := range r.probes(op) {
				params := op.BaseRequest()
				for _, kv := range combo {
					setOrDelete(params, kv.param, kv.value)
				}
				pr.apply(params)
				op.repair(params, r, group, combo)
				name := pr.name
				var parts []string
				for _, kv := range combo {
					if params.Get(kv.param) != kv.value {
						continue // the probe itself set this parameter
					}
					v := kv.value
					if v == "" {
						v = "-"
					}
					parts = append(parts, kv.param+"="+v)
				}
				if len(parts) > 0 {
					name += " [" + strings.Join(parts, " ") + "]"
				}
				key := r.ID + "?" + params.Encode()
				if seen[key] {
					continue
				}
				seen[key] = true
				intent := Satisfied
				if r.conditionsHold(op, params) {
					intent = r.adjust(op, pr.result, pr, params)
				}
				out = append(out, Case{Name: name, Rule: r.ID, Params: params, Intent: intent, Want: op.Evaluate(params, Options{})})
			}
		}
	}
	return out
}

// BaseRequest returns a minimal valid request: Action, Version and every required,
// non-signature parameter with its example value.
func (op *Operation) BaseRequest() url.Values {
	v := url.Values{"Action": {op.Action}, "Version": {op.Version}}
	for _, p := range op.Parameters {
		if p.Required && !p.Auth && !p.Common {
			v.Set(p.Name, p.Example)
		}
	}
	return v
}

func setOrDelete(v url.Values, k, val string) {
	if val == "" {
		v.Del(k)
	} else {
		v.Set(k, val)
	}
}

// group returns the rules that check the same parameters as r: their conditions are
// combined, so each boundary is tried under every charge type, not only r's own.
func (op *Operation) group(r *Rule) []*Rule {
	var g []*Rule
	for _, o := range op.Rules {
		if o.Check.Kind == r.Check.Kind && slices.Equal(o.Check.subjects(), r.Check.subjects()) {
			g = append(g, o)
		}
	}
	return g
}

type kv struct{ param, value string }

// combos returns every combination of the group's condition parameters: each value the
// conditions name or the parameter's enum allows, and absent.
func (op *Operation) combos(group []*Rule) [][]kv {
	vals := map[string][]string{}
	var names []string
	for _, r := range group {
		for _, c := range r.When {
			if _, ok := vals[c.Param]; !ok {
				names = append(names, c.Param)
			}
			p := op.params[c.Param]
			set := vals[c.Param]
			add := func(x string) {
				if !slices.Contains(set, x) {
					set = append(set, x)
				}
			}
			if c.Present != nil {
				if p != nil {
					add(p.Example)
				}
			} else {
				for _, x := range c.In {
					add(x)
				}
				if p != nil {
					for _, x := range p.Enum {
						add(x)
					}
					if p.Required && p.Example != "" {
						add(p.Example)
					}
				}
			}
			if p == nil || !p.Required {
				add("")
			}
			vals[c.Param] = set
		}
	}
	sort.Strings(names)
	out := [][]kv{nil}
	for _, n := range names {
		var next [][]kv
		for _, prefix := range out {
			for _, x := range vals[n] {
				next = append(next, append(slices.Clone(prefix), kv{n, x}))
			}
		}
		out = next
	}
	return out
}

// conditionsHold reports whether the rule's conditions hold for params, read directly
// (effective values with defaults), independently of the oracle.
func (r *Rule) conditionsHold(op *Operation, params url.Values) bool {
	for _, c := range r.When {
		v := params.Get(c.Param)
		if c.Present != nil {
			if (v != "") != *c.Present {
				return false
			}
			continue
		}
		if v == "" {
			if p := op.params[c.Param]; p != nil && p.HasDefault {
				v = p.Default
			}
		}
		if !slices.Contains(c.In, v) {
			return false
		}
	}
	return true
}

// adjust turns the probe's intended result into the rule's documented ambiguity: a rule the
// documents leave open, or another document's variant that reads the probe differently.
func (r *Rule) adjust(op *Operation, intent Result, pr probe, params url.Values) Result {
	if intent == Violated && r.Ambiguous != "" {
		return Ambiguous
	}
	if intent == Ambiguous || (!pr.sends && r.Check.Kind != KindPresent) {
		return intent
	}
	if r.variantsDisagree(newInput(op, params, false), intent) {
		return Ambiguous
	}
	return intent
}

// repair fixes the rules other than the probed group that the base request breaks (PrePaid
// needs Period, PricingCycle and AutoPay, for instance), without touching probed parameters.
func (op *Operation) repair(params url.Values, probed *Rule, group []*Rule, combo []kv) {
	frozen := map[string]bool{}
	for _, r := range group {
		for _, p := range r.Params {
			frozen[rootParam(p)] = true
		}
	}
	for _, p := range probed.Params {
		frozen[rootParam(p)] = true
	}
	for _, c := range combo {
		frozen[c.param] = true
	}
	for pass := 0; pass < 4; pass++ {
		in := newInput(op, params, false)
		changed := false
		for _, r := range op.Rules {
			if r.Auth || slices.Contains(group, r) || r.eval(in, Options{}) != Violated {
				continue
			}
			touches := false
			for _, p := range r.Check.subjects() {
				if frozen[rootParam(p)] {
					touches = true
				}
			}
			if touches {
				continue
			}
			c := r.Check
			switch c.Kind {
			case KindPresent:
				if p := op.params[c.Param]; p != nil && p.Example != "" {
					params.Set(c.Param, p.Example)
					changed = true
				}
			case KindAbsent:
				params.Del(c.Param)
				changed = true
			case KindEnum:
				params.Set(c.Param, c.Values[0])
				changed = true
			case KindRange:
				if c.Min != nil {
					params.Set(c.Param, strconv.FormatInt(*c.Min, 10))
				} else {
					params.Set(c.Param, strconv.FormatInt(*c.Max, 10))
				}
				changed = true
			case KindExclusive:
				for _, p := range c.Params[1:] {
					params.Del(p)
				}
				changed = true
			}
		}
		if !changed {
			return
		}
	}
}

func rootParam(name string) string {
	base, _, _ := strings.Cut(name, ".")
	return base
}

// probe is one value (or mutation) a case applies for a rule.
type probe struct {
	name   string
	result Result // what the probe does to the rule's own check when the rule applies
	sends  bool   // the probe sends a value of the checked parameter
	value  *string
	apply  func(url.Values)
}

func setProbe(param, label, value string, result Result) probe {
	v := value
	return probe{
		name: param + "=" + label, result: result, sends: true, value: &v,
		apply: func(p url.Values) { p.Set(param, value) },
	}
}

func valueProbe(param, value string, result Result) probe {
	return setProbe(param, shortValue(value), value, result)
}

func shortValue(v string) string {
	if n := len([]rune(v)); n > 24 {
		return fmt.Sprintf("%q…(%d chars)", string([]rune(v)[:8]), n)
	}
	return strconv.Quote(v)
}

// probes returns the rule's boundary probes.
func (r *Rule) probes(op *Operation) []probe {
	c := r.Check
	p, field := (&input{op: op}).lookup(c.Param)
	wire := c.Param
	if p != nil && field != "" {
		wire = p.Name + ".1." + field
	} else if p != nil && p.Type == List {
		wire = p.Name + ".1"
	}
	var out []probe
	switch c.Kind {
	case KindPresent:
		out = append(out, probe{name: c.Param + " absent", result: Violated, apply: func(v url.Values) { v.Del(c.Param) }})
		if p != nil && p.Example != "" {
			out = append(out, valueProbe(c.Param, p.Example, Satisfied))
		}
	case KindAbsent:
		out = append(out, probe{name: c.Param + " absent", result: Satisfied, apply: func(v url.Values) { v.Del(c.Param) }})
		if p != nil && p.Example != "" {
			out = append(out, valueProbe(c.Param, p.Example, Violated))
		}
	case KindEnum:
		if p != nil && !p.Required && field == "" && p.Type != List {
			res := Satisfied // absent, the server applies the default
			if p.HasDefault {
				res = c.evalValue(p.Default)
			}
			out = append(out, probe{name: c.Param + " absent", result: res, apply: func(v url.Values) { v.Del(c.Param) }})
		}
		for _, v := range c.Values {
			out = append(out, valueProbe(wire, v, Satisfied))
		}
		out = append(out, valueProbe(wire, c.Values[0]+"X", Violated))
		if lo := strings.ToLower(c.Values[0]); lo != c.Values[0] && !slices.Contains(c.Values, lo) {
			out = append(out, valueProbe(wire, lo, Violated))
		}
		if p != nil && p.Type != List && p.Type != ObjectList {
			for _, v := range p.Enum {
				if !slices.Contains(c.Values, v) {
					out = append(out, valueProbe(wire, v, Violated))
				}
			}
		}
	case KindRange:
		if c.Min != nil {
			out = append(out, valueProbe(wire, strconv.FormatInt(*c.Min-1, 10), Violated), valueProbe(wire, strconv.FormatInt(*c.Min, 10), Satisfied))
		}
		if c.Max != nil {
			out = append(out, valueProbe(wire, strconv.FormatInt(*c.Max, 10), Satisfied), valueProbe(wire, strconv.FormatInt(*c.Max+1, 10), Violated))
		}
		out = append(out, valueProbe(wire, "1.5", Violated), valueProbe(wire, "ten", Violated))
	case KindInteger:
		out = append(out, valueProbe(wire, "1", Satisfied), valueProbe(wire, "1.0", Violated), valueProbe(wire, "0x10", Violated), valueProbe(wire, " 1", Violated))
		if c.Bits == 32 {
			out = append(out, valueProbe(wire, "2147483647", Satisfied), valueProbe(wire, "2147483648", Violated))
		} else {
			out = append(out, valueProbe(wire, "9223372036854775807", Satisfied), valueProbe(wire, "9223372036854775808", Violated))
		}
	case KindBoolean:
		out = append(out, valueProbe(wire, "true", Satisfied), valueProbe(wire, "false", Satisfied),
			valueProbe(wire, "True", Ambiguous), valueProbe(wire, "yes", Violated), valueProbe(wire, "1", Violated))
	case KindLength:
		lens := map[int64]bool{}
		if c.Min != nil {
			lens[*c.Min-1], lens[*c.Min] = true, true
		}
		if c.Max != nil {
			lens[*c.Max], lens[*c.Max+1] = true, true
		}
		for _, n := range slices.Sorted(func(yield func(int64) bool) {
			for n := range lens {
				if !yield(n) {
					return
				}
			}
		}) {
			if n < 0 {
				continue
			}
			res := Satisfied
			if (c.Min != nil && n < *c.Min) || (c.Max != nil && n > *c.Max) {
				res = Violated
			}
			if n == 0 {
				// An empty value counts as absent; that it breaks the length is ambiguous.
				res = Satisfied
				if c.Min != nil && *c.Min > 0 && p != nil && !p.Required {
					res = Ambiguous
				}
			}
			out = append(out, setProbe(wire, fmt.Sprintf("len%d", n), filler(int(n)), res))
		}
	case KindPattern:
		if p != nil && p.Example != "" {
			out = append(out, setProbe(wire, "example", p.Example, c.evalValue(p.Example)))
		}
		for _, s := range patternSamples {
			out = append(out, setProbe(wire, s.label, s.value, c.evalValue(s.value)))
		}
	case KindNotPrefix:
		for _, pre := range c.Prefixes {
			out = append(out, valueProbe(wire, pre+"example.com", Violated), valueProbe(wire, strings.ToUpper(pre)+"example.com", Ambiguous))
		}
		out = append(out, valueProbe(wire, "httpd server", Satisfied))
	case KindTime:
		good := time.Date(2017, 1, 5, 1, 5, 0, 0, time.UTC).Format(c.Layout)
		out = append(out, valueProbe(wire, good, Satisfied),
			valueProbe(wire, strings.Replace(good, "T", " ", 1), Violated),
			valueProbe(wire, strings.TrimSuffix(good, "Z"), Violated),
			valueProbe(wire, strings.TrimSuffix(good, "Z")+"+08:00", Violated),
			valueProbe(wire, strings.Replace(good, "-01-", "-13-", 1), Violated),
			valueProbe(wire, strings.Replace(good, "T01:", "T1:", 1), Violated),
			valueProbe(wire, "yesterday", Violated))
	case KindExclusive:
		for i := range c.Params {
			only := c.Params[i]
			out = append(out, probe{name: only + " only", result: Satisfied, sends: true, apply: func(v url.Values) {
				for _, q := range c.Params {
					v.Del(q)
				}
				v.Set(only, op.params[only].Example)
			}})
		}
		out = append(out, probe{name: strings.Join(c.Params, "+"), result: Violated, sends: true, apply: func(v url.Values) {
			for _, q := range c.Params {
				v.Set(q, op.params[q].Example)
			}
		}}, probe{name: "none of " + strings.Join(c.Params, ","), result: Satisfied, apply: func(v url.Values) {
			for _, q := range c.Params {
				v.Del(q)
			}
		}})
	case KindMaxItems:
		if p != nil && c.Max != nil {
			for _, n := range []int{int(*c.Max), int(*c.Max) + 1} {
				res := Satisfied
				if n > int(*c.Max) {
					res = Violated
				}
				items := n
				out = append(out, probe{name: fmt.Sprintf("%s x%d", p.Name, n), result: res, sends: true, apply: func(v url.Values) {
					for i, w := range p.WireNames(items) {
						v.Set(w, itemValue(p, w, i))
					}
				}})
			}
		}
	case KindMaxPoints:
		out = append(out, r.pointProbes(op)...)
	case KindOrder:
		out = append(out, probe{name: c.Start + " after " + c.End, result: Violated, sends: true, apply: func(v url.Values) {
			v.Set(c.Start, "2017-01-05T02:05:00Z")
			v.Set(c.End, "2017-01-05T01:05:00Z")
		}}, probe{name: c.Start + " equals " + c.End, result: Satisfied, sends: true, apply: func(v url.Values) {
			v.Set(c.Start, "2017-01-05T01:05:00Z")
			v.Set(c.End, "2017-01-05T01:05:00Z")
		}})
	}
	return out
}

// pointProbes put (End - Start) / Period at the limit and one past it, for every period the
// parameter allows, and once with seconds that round up.
func (r *Rule) pointProbes(op *Operation) []probe {
	c := r.Check
	period := op.params[c.Param]
	periods := []string{}
	if period != nil {
		periods = append(periods, period.Enum...)
	}
	start := time.Date(2017, 1, 5, 0, 0, 0, 0, time.UTC)
	layout := "2006-01-02T15:04:05Z"
	var out []probe
	for _, ps := range periods {
		secs, ok := ParseInt(ps, 32)
		if !ok || c.Max == nil {
			continue
		}
		for _, n := range []int64{*c.Max, *c.Max + 1} {
			res := Satisfied
			if n > *c.Max {
				res = Violated
			}
			end := start.Add(time.Duration(n*secs) * time.Second)
			ps, n := ps, n
			out = append(out, probe{name: fmt.Sprintf("%d points at Period=%s", n, ps), result: res, sends: true, apply: func(v url.Values) {
				v.Set(c.Start, start.Format(layout))
				v.Set(c.End, end.Format(layout))
				v.Set(c.Param, ps)
			}})
		}
	}
	// 12:00:30 rounds up to 12:01, so 200 minutes later plus 30 s is still 200 points.
	out = append(out, probe{name: "200 points with seconds rounding up", result: Satisfied, sends: true, apply: func(v url.Values) {
		s := start.Add(30 * time.Second)
		v.Set(c.Start, s.Format(layout))
		v.Set(c.End, s.Add(200*time.Minute).Format(layout))
		v.Del(c.Param)
	}}, probe{name: "201 points by default Period", result: Violated, sends: true, apply: func(v url.Values) {
		v.Set(c.Start, start.Format(layout))
		v.Set(c.End, start.Add(201*time.Minute).Format(layout))
		v.Del(c.Param)
	}})
	return out
}

func itemValue(p *Parameter, wire string, i int) string {
	if vals := p.FieldEnums[""]; p.Type == List && len(vals) > 0 {
		return vals[0]
	}
	if p.Type == ObjectList {
		for f, vals := range p.FieldEnums {
			if strings.HasSuffix(wire, "."+f) && len(vals) > 0 {
				return vals[i%len(vals)]
			}
		}
		return "2023-01-01T01:00Z"
	}
	if p.Example != "" {
		return p.Example
	}
	return "x"
}

// filler returns n characters that satisfy the name and description patterns: a letter,
// then letters and digits.
func filler(n int) string {
	if n <= 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('A')
	for i := 1; i < n; i++ {
		b.WriteByte("abcdefghij0123456789"[i%20])
	}
	return b.String()
}

// patternSamples are the character classes tried against every pattern.
var patternSamples = []struct{ label, value string }{
	{"letters", "Abc"},
	{"letters+digits", "Abc123"},
	{"leading-digit", "1abc"},
	{"leading-period", ".abc"},
	{"leading-underscore", "_abc"},
	{"leading-hyphen", "-abc"},
	{"inner-period", "a.b"},
	{"inner-underscore", "a_b"},
	{"inner-hyphen", "a-b"},
	{"inner-space", "a b"},
	{"inner-slash", "a/b"},
	{"leading-non-ascii", "Ébc"},
	{"inner-non-ascii", "aéb"},
	{"cjk", "弹性公网"},
	{"http-prefix", "http://example.com"},
	{"ipv4", "192.0.2.1"},
	{"ipv4-octet-256", "192.0.2.256"},
	{"ipv4-three-octets", "192.0.2"},
	{"ipv4-leading-zero", "192.0.2.01"},
	{"ipv4-masked", "192.0.XX.XX"},
}

// cloneValues copies v and its value slices.
func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

package spec

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Rule is one parameter-level rule: under its conditions, its check must hold, or the
// endpoint must reject the request with its error.
type Rule struct {
	ID        string
	Operation string
	Summary   string
	// Params are every parameter the rule touches: the checked ones, then the conditions'.
	Params     []string
	When       []Condition
	Check      Check
	Error      ErrorRef
	Mapping    Mapping
	Source     string
	Quote      string
	Note       string
	AlsoAccept []AltError
	Variants   []RuleVariant
	// Ambiguous, when set, says why a violation of this rule may be accepted.
	Ambiguous string
	// Derived is true for rules read from a parameter's own schema (required, enum, range,
	// length, pattern, ...), false for x-rules.
	Derived bool
	// Auth is true for rules on the signature parameters, which only apply when the endpoint
	// authenticates.
	Auth bool
}

// Condition restricts when a rule applies. With In, the parameter's effective value (its
// default when absent) must be one of the values; with Present, the parameter must be sent
// (true) or not (false).
type Condition struct {
	Param   string   `json:"param"`
	In      []string `json:"in,omitempty"`
	Present *bool    `json:"present,omitempty"`
}

func (c Condition) String() string {
	if c.Present != nil {
		if *c.Present {
			return c.Param + " present"
		}
		return c.Param + " absent"
	}
	return c.Param + " in " + strings.Join(c.In, "|")
}

// CheckKind names the kind of a rule's check.
type CheckKind string

// Check kinds.
const (
	KindPresent   CheckKind = "present"    // Param must be sent
	KindAbsent    CheckKind = "absent"     // Param must not be sent
	KindEnum      CheckKind = "enum"       // effective value in Values
	KindRange     CheckKind = "range"      // effective value a decimal integer in [Min, Max]
	KindInteger   CheckKind = "integer"    // value a decimal integer that fits Bits
	KindBoolean   CheckKind = "boolean"    // value true or false
	KindLength    CheckKind = "length"     // length in characters in [Min, Max]
	KindPattern   CheckKind = "pattern"    // value matches Pattern
	KindNotPrefix CheckKind = "not-prefix" // value starts with none of Prefixes
	KindTime      CheckKind = "time"       // value parses with Layout
	KindExclusive CheckKind = "exclusive"  // at most one of Params sent
	KindMaxItems  CheckKind = "max-items"  // at most Max items of the repeated Param
	KindMaxPoints CheckKind = "max-points" // (End - Start) / Param at most Max, times rounded up to the minute
	KindOrder     CheckKind = "order"      // Start not after End
)

// Check is what a rule requires. Which fields are used depends on Kind.
type Check struct {
	Kind     CheckKind `json:"kind"`
	Param    string    `json:"param,omitempty"`
	Params   []string  `json:"params,omitempty"`
	Min      *int64    `json:"min,omitempty"`
	Max      *int64    `json:"max,omitempty"`
	Values   []string  `json:"values,omitempty"`
	Pattern  string    `json:"pattern,omitempty"`
	Prefixes []string  `json:"prefixes,omitempty"`
	Layout   string    `json:"layout,omitempty"`
	Start    string    `json:"start,omitempty"`
	End      string    `json:"end,omitempty"`
	Bits     int       `json:"bits,omitempty"`

	re *regexp.Regexp
}

// RuleVariant is what another document says about a rule: a different check, or (Disabled)
// no such rule. Where the variant and the rule disagree on a request, the oracle accepts
// either outcome.
type RuleVariant struct {
	Source   string `json:"source"`
	Says     string `json:"says"`
	Disabled bool   `json:"disabled,omitempty"`
	Check    *Check `json:"check,omitempty"`
}

// Result is the outcome of one check on one request.
type Result int

// Results.
const (
	Satisfied Result = iota
	Violated
	Ambiguous
)

func (r Result) String() string {
	switch r {
	case Violated:
		return "violated"
	case Ambiguous:
		return "ambiguous"
	}
	return "satisfied"
}

// String describes the check, e.g. "Bandwidth in [1, 500]".
func (c *Check) String() string {
	switch c.Kind {
	case KindPresent:
		return c.Param + " required"
	case KindAbsent:
		return c.Param + " not allowed"
	case KindEnum:
		return c.Param + " in {" + strings.Join(c.Values, ", ") + "}"
	case KindRange:
		return fmt.Sprintf("%s in [%s, %s]", c.Param, bound(c.Min), bound(c.Max))
	case KindInteger:
		return fmt.Sprintf("%s an int%d", c.Param, c.Bits)
	case KindBoolean:
		return c.Param + " true|false"
	case KindLength:
		return fmt.Sprintf("len(%s) in [%s, %s]", c.Param, bound(c.Min), bound(c.Max))
	case KindPattern:
		return fmt.Sprintf("%s matches %s", c.Param, c.Pattern)
	case KindNotPrefix:
		return fmt.Sprintf("%s not starting with %s", c.Param, strings.Join(c.Prefixes, " or "))
	case KindTime:
		return fmt.Sprintf("%s formatted %s", c.Param, c.Layout)
	case KindExclusive:
		return "at most one of " + strings.Join(c.Params, ", ")
	case KindMaxItems:
		return fmt.Sprintf("at most %s items of %s", bound(c.Max), c.Param)
	case KindMaxPoints:
		return fmt.Sprintf("(%s - %s) / %s <= %s", c.End, c.Start, c.Param, bound(c.Max))
	case KindOrder:
		return c.Start + " <= " + c.End
	}
	return string(c.Kind)
}

func bound(p *int64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatInt(*p, 10)
}

// subjects returns the parameters the check reads.
func (c *Check) subjects() []string {
	switch c.Kind {
	case KindExclusive:
		return c.Params
	case KindMaxPoints:
		return []string{c.Start, c.End, c.Param}
	case KindOrder:
		return []string{c.Start, c.End}
	}
	return []string{c.Param}
}

func (c *Check) compile() error {
	if c.Kind == KindPattern {
		re, err := regexp.Compile(c.Pattern)
		if err != nil {
			return fmt.Errorf("pattern %q: %v", c.Pattern, err)
		}
		c.re = re
	}
	return nil
}

// eval judges the check on a request.
func (c *Check) eval(in *input) Result {
	switch c.Kind {
	case KindPresent:
		if in.sent(c.Param) {
			return Satisfied
		}
		return Violated
	case KindAbsent:
		if in.sent(c.Param) {
			return Violated
		}
		return Satisfied
	case KindExclusive:
		n := 0
		for _, p := range c.Params {
			if in.sent(p) {
				n++
			}
		}
		if n > 1 {
			return Violated
		}
		return Satisfied
	case KindMaxItems:
		if c.Max != nil && in.itemCount(c.Param) > int(*c.Max) {
			return Violated
		}
		return Satisfied
	case KindMaxPoints:
		n, ok := in.points(c.Start, c.End, c.Param)
		if ok && c.Max != nil && n > *c.Max {
			return Violated
		}
		return Satisfied
	case KindOrder:
		start, ok1 := in.minuteTime(c.Start)
		end, ok2 := in.minuteTime(c.End)
		if ok1 && ok2 && start.After(end) {
			return Violated
		}
		return Satisfied
	}
	if p := in.op.params[c.Param]; p != nil && p.Type != List && p.Type != ObjectList {
		v, ok := in.first(c.Param, c.usesDefault())
		if !ok {
			return Satisfied
		}
		return c.evalValue(v)
	}
	worst := Satisfied
	for _, v := range in.values(c.Param, c.usesDefault()) {
		if r := c.evalValue(v); r > worst {
			worst = r
		}
	}
	return worst
}

// usesDefault reports whether the check judges the default of an absent parameter.
func (c *Check) usesDefault() bool { return c.Kind == KindEnum || c.Kind == KindRange }

// evalValue judges one value of a single-value check.
func (c *Check) evalValue(v string) Result {
	switch c.Kind {
	case KindEnum:
		for _, x := range c.Values {
			if v == x {
				return Satisfied
			}
		}
		return Violated
	case KindRange:
		n, ok := ParseInt(v, 64)
		if !ok || (c.Min != nil && n < *c.Min) || (c.Max != nil && n > *c.Max) {
			return Violated
		}
		return Satisfied
	case KindInteger:
		if _, ok := ParseInt(v, c.Bits); !ok {
			return Violated
		}
		return Satisfied
	case KindBoolean:
		switch v {
		case "true", "false":
			return Satisfied
		}
		if strings.EqualFold(v, "true") || strings.EqualFold(v, "false") {
			return Ambiguous // the seeds spell booleans in lower case but do not forbid others
		}
		return Violated
	case KindLength:
		n := int64(utf8.RuneCountInString(v))
		if (c.Min != nil && n < *c.Min) || (c.Max != nil && n > *c.Max) {
			return Violated
		}
		return Satisfied
	case KindPattern:
		if c.re.MatchString(v) {
			return Satisfied
		}
		return Violated
	case KindNotPrefix:
		for _, p := range c.Prefixes {
			if strings.HasPrefix(v, p) {
				return Violated
			}
		}
		for _, p := range c.Prefixes {
			if len(v) >= len(p) && strings.EqualFold(v[:len(p)], p) {
				return Ambiguous // "HTTP://": the documents give the prefixes in lower case only
			}
		}
		return Satisfied
	case KindTime:
		if _, ok := ParseTime(c.Layout, v); ok {
			return Satisfied
		}
		return Violated
	}
	return Satisfied
}

// ParseInt parses a decimal integer the way the spec reads integer parameters: an optional
// minus sign and ASCII digits only, fitting in bits (32 or 64).
func ParseInt(s string, bits int) (int64, bool) {
	if bits == 0 {
		bits = 64
	}
	if s == "" {
		return 0, false
	}
	body := strings.TrimPrefix(s, "-")
	if body == "" {
		return 0, false
	}
	for i := 0; i < len(body); i++ {
		if body[i] < '0' || body[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, bits)
	return n, err == nil
}

// ParseTime parses s with layout and accepts it only if it is written exactly as the layout
// writes it back (two-digit fields, no offsets).
func ParseTime(layout, s string) (time.Time, bool) {
	t, err := time.Parse(layout, s)
	if err != nil || t.Format(layout) != s {
		return time.Time{}, false
	}
	return t, true
}

// CeilMinute rounds t up to the next whole minute, as DescribeEipMonitorData does with
// seconds other than 00.
func CeilMinute(t time.Time) time.Time {
	if r := t.Truncate(time.Minute); !r.Equal(t) {
		return r.Add(time.Minute)
	}
	return t
}

// MonitorPoints returns how many data points DescribeEipMonitorData covers between start and
// end at period seconds: (CeilMinute(end) - CeilMinute(start)) / period, rounded down.
func MonitorPoints(start, end time.Time, period int64) int64 {
	if period <= 0 {
		return 0
	}
	d := CeilMinute(end).Sub(CeilMinute(start))
	if d < 0 {
		return 0
	}
	return int64(d/time.Second) / period
}

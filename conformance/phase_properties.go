package conformance

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math/rand"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
	"github.com/eipconform/eipconform/world"
	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/gen"
	"github.com/leanovate/gopter/prop"
)

// Checks of the properties phase: one per property, each run per operation with gopter.
const (
	// CheckValidAccepted is the property that random requests the oracle accepts get a 2xx
	// (or, as the phase does not control state, an error of one of the operation's state
	// rules) and pass every response check.
	CheckValidAccepted = "valid"
	// CheckOneRuleBroken is the property that a valid request with exactly one rule broken is
	// rejected with the status and Code the rule maps to.
	CheckOneRuleBroken = "one-rule-broken"
)

func init() {
	register(phase{name: PhaseProperties, perOp: runProperties})
}

// propertyMaxShrinks bounds how many times a failing property's input is shrunk; every
// shrink step costs requests.
const propertyMaxShrinks = 100

// propertyDiscardRatio is how many generated inputs per success the sieve (the oracle) may
// discard before a property gives up; the generators retry internally, so few are.
const propertyDiscardRatio = 5

// drawTries is how many times a generator redraws before handing gopter a value its sieve
// discards.
const drawTries = 50

// runProperties checks, per operation of the scope, two properties with gopter (seeded with
// the run's seed, Options.Cases inputs each): random valid requests are accepted, and a valid
// request with one rule broken is rejected with that rule's error. While gopter searches and
// shrinks, requests are judged silently; the shrunk counterexample of a failing property is
// sent once more and recorded, with the property's own violation.
func runProperties(ctx context.Context, s *session, sc scope) error {
	fixtures := propertyFixtures(s)
	base := propertyBaseTime(time.Now())
	return s.forEachOp(ctx, PhaseProperties, sc, func(ctx context.Context, op *spec.Operation) error {
		if !s.canMutate(op) {
			s.rep.skip(op.Action, PhaseProperties, "mutating operation on a non-loopback endpoint (AllowMutations not set)")
			return nil
		}
		g := newDraftGen(s, op, base)
		f := fixtures[op.Action]
		if needsEIP(op) && !s.opts.DryRun {
			f.allocate(ctx) // an EIP to describe, even where AllocationId is optional
		}
		f.prepare(ctx, op)
		defer releaseFixture(ctx, f)
		if s.selected(op.Action, PhaseProperties, CheckValidAccepted) {
			if err := s.checkValid(ctx, op, f, g); err != nil {
				return err
			}
		}
		if s.selected(op.Action, PhaseProperties, CheckOneRuleBroken) {
			if err := s.checkOneRuleBroken(ctx, op, f, g); err != nil {
				return err
			}
		}
		return nil
	})
}

// propertyFixtures returns a fixture per operation. They pick their resources as the
// boundaries phase's do, so AllocatePublicIpAddress gives a public IP (which no API call takes
// back) to the instance that phase already gave one; the operations that associate an EIP
// with an instance then get one of the other instances each, as operations run concurrently
// and an instance holds one EIP.
func propertyFixtures(s *session) map[string]*fixture {
	out := map[string]*fixture{}
	var taken []string
	for i, op := range s.spec.Operations {
		f := s.newFixture(PhaseProperties, i)
		out[op.Action] = f
		if op.Action == "AllocatePublicIpAddress" {
			taken = append(taken, f.ecs)
		}
	}
	var spare []string
	for _, in := range s.world.InstancesIn(s.region, world.StatusRunning) {
		if !slices.Contains(taken, in.ID) {
			spare = append(spare, in.ID)
		}
	}
	next := 0
	for _, op := range s.spec.Operations {
		if (op.Action == "AssociateEipAddress" || op.Action == "UnassociateEipAddress") && len(spare) > 0 {
			out[op.Action].instance = spare[next%len(spare)]
			next++
		}
	}
	return out
}

// propertyBaseTime is the origin of generated times: the start of the day before now, so a
// seed generates the same times all day and a real endpoint has the data.
func propertyBaseTime(now time.Time) time.Time {
	return now.UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
}

// releaseFixture gives the fixture's EIP back, so later phases find the region's quota as
// this phase found it; the janitor catches what this misses.
func releaseFixture(ctx context.Context, f *fixture) {
	s := f.s
	if f.eip == "" || s.opts.DryRun || ctx.Err() != nil {
		return
	}
	if f.bound {
		un := s.spec.Operation("UnassociateEipAddress")
		p := s.base(un)
		p.Set("AllocationId", f.eip)
		p.Set("InstanceId", f.instance)
		if _, err := s.send(ctx, &request{op: un, phase: f.phase, name: "teardown: unassociate", params: p}); err != nil {
			return
		}
		f.bound = false
	}
	rel := s.spec.Operation("ReleaseEipAddress")
	p := s.base(rel)
	p.Set("AllocationId", f.eip)
	s.send(ctx, &request{op: rel, phase: f.phase, name: "teardown: release", params: p})
	f.eip = ""
}

// testParameters are gopter's parameters for one property: the run's seed (set through
// DefaultTestParametersWithSeed, so the seed gopter reports is the run's), Options.Cases
// inputs.
func (s *session) testParameters() *gopter.TestParameters {
	p := gopter.DefaultTestParametersWithSeed(s.opts.Seed)
	p.MinSuccessfulTests = s.opts.Cases
	p.MaxShrinkCount = propertyMaxShrinks
	p.MaxDiscardRatio = propertyDiscardRatio
	return p
}

// checkValid runs the "valid" property for op.
func (s *session) checkValid(ctx context.Context, op *spec.Operation, f *fixture, g *draftGen) error {
	keep := func(d draft) bool { return g.acceptable(d.values()) }
	try := func(d draft, silent bool, counter string) attempt {
		params := f.place(op, d.values())
		if !g.acceptable(params) {
			// Not an input of the property (the sieve keeps these out). It passes rather than
			// being undecided: gopter's shrinking takes anything but a success for a failure.
			return attempt{ok: true}
		}
		r := &request{op: op, phase: PhaseProperties, name: "random valid request", params: params,
			allowState: true, silent: silent, counter: counter}
		return s.tryProperty(ctx, f, r, g.verdict(params))
	}
	property := prop.ForAll(func(d draft) *gopter.PropResult {
		return try(d, true, "").result()
	}, g.validGen(keep).WithLabel("request"))
	res := property.Check(s.testParameters())
	return s.reportProperty(ctx, op, CheckValidAccepted, res, func(arg any, counter string) attempt {
		d, _ := arg.(draft)
		return try(d, false, counter)
	}, "a 2xx answer, or an error of one of "+op.Action+"'s state rules, with every response check passing")
}

// checkOneRuleBroken runs the "one-rule-broken" property for op.
func (s *session) checkOneRuleBroken(ctx context.Context, op *spec.Operation, f *fixture, g *draftGen) error {
	cases := breakCases(op, rand.New(rand.NewSource(s.opts.Seed)))
	if len(cases) == 0 {
		s.rep.skip(op.Action, PhaseProperties, "no boundary case breaks exactly one rule")
		return nil
	}
	brokenOne := func(b broken, params url.Values) (spec.Verdict, bool) {
		v := g.verdict(params)
		return v, v.Outcome == spec.Reject && onlyViolated(v) == b.bc.rule.ID && !buysSubscription(op, params)
	}
	keep := func(b broken) bool {
		_, ok := brokenOne(b, b.values())
		return ok
	}
	try := func(b broken, silent bool, counter string) attempt {
		params := f.place(op, b.values())
		v, ok := brokenOne(b, params)
		if !ok {
			// Not an input of the property (the sieve keeps these out). It passes rather than
			// being undecided: gopter's shrinking takes anything but a success for a failure.
			return attempt{ok: true}
		}
		r := &request{op: op, phase: PhaseProperties, name: "rule " + b.bc.rule.ID + " broken: " + b.bc.c.Name,
			params: params, silent: silent, counter: counter}
		return s.tryProperty(ctx, f, r, v)
	}
	property := prop.ForAll(func(b broken) *gopter.PropResult {
		return try(b, true, "").result()
	}, g.brokenGen(cases, keep).WithLabel("request"))
	res := property.Check(s.testParameters())
	return s.reportProperty(ctx, op, CheckOneRuleBroken, res, func(arg any, counter string) attempt {
		b, _ := arg.(broken)
		return try(b, false, counter)
	}, "")
}

// attempt is one input of a property, sent and judged.
type attempt struct {
	ok   bool // every response check passed, or the request was not sent
	r    *request
	resp *rpc.Response
	v    spec.Verdict
}

// result is the attempt as gopter's property result.
func (a attempt) result() *gopter.PropResult {
	if a.ok {
		return &gopter.PropResult{Status: gopter.PropTrue}
	}
	return &gopter.PropResult{Status: gopter.PropFalse}
}

// tryProperty sends r, judges the answer against v and undoes what an accepted request did.
// A request that was not sent (dry run, refused mutation) passes; a silent one that failed at
// the transport level fails, so that the counterexample is sent again and recorded.
func (s *session) tryProperty(ctx context.Context, f *fixture, r *request, v spec.Verdict) attempt {
	a := attempt{r: r, v: v}
	if ctx.Err() != nil {
		a.ok = true // the run is over; the phase returns ctx.Err()
		return a
	}
	if !s.opts.DryRun {
		f.prepare(ctx, r.op) // what the previous input did is undone; this redoes what failed
	}
	resp, err := s.send(ctx, r)
	if err != nil || resp == nil {
		a.ok = err != nil || s.opts.DryRun || !s.canMutate(r.op) || s.stopped() != ""
		return a
	}
	a.resp = resp
	a.ok = s.judge(r, resp, v)
	f.restore(ctx, r.op, r.params, resp)
	return a
}

// reportProperty records a property's outcome: a pass per passed input, and for a falsified
// property one violation of check with gopter's report of the shrunk counterexample, after
// sending that counterexample once more with recording on (resend), so that the response
// checks' own violations appear with it. want describes what the property wants; "" means
// the verdict's errors.
func (s *session) reportProperty(ctx context.Context, op *spec.Operation, check string, res *gopter.TestResult,
	resend func(arg any, counter string) attempt, want string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.opts.DryRun {
		for range res.Succeeded {
			s.rep.count(op.Action, PhaseProperties, check, resultPass)
		}
	}
	switch res.Status {
	case gopter.TestPassed, gopter.TestProved:
		return nil
	case gopter.TestExhausted:
		s.rep.skip(op.Action, PhaseProperties, fmt.Sprintf("property %s gave up after %d passed inputs: the oracle discarded %d generated ones", check, res.Succeeded, res.Discarded))
		return nil
	case gopter.TestError:
		return fmt.Errorf("%s: property %s: %w", op.Action, check, res.Error)
	}
	if len(res.Args) == 0 {
		return fmt.Errorf("%s: property %s failed without a counterexample", op.Action, check)
	}
	var buf bytes.Buffer
	gopter.NewFormatedReporter(false, 100, &buf).ReportTestResult(op.Action+"/"+PhaseProperties+"/"+check, res)
	counter := strings.TrimSpace(buf.String()) + fmt.Sprintf("\nseed: %d", s.opts.Seed)
	a := resend(res.Args[0].Arg, counter)
	if a.r == nil { // cannot happen: the sieve keeps every shrink an input of the property
		a.r = &request{op: op, phase: PhaseProperties, name: "shrunk counterexample", counter: counter}
	}
	msg := "the property is falsified: the shrunk counterexample fails the response checks recorded with it"
	if a.ok {
		msg = "the property was falsified during the search, but its shrunk counterexample passed when sent again (does the answer depend on state?)"
	}
	if want == "" {
		want = a.v.String()
	}
	got := fmt.Sprintf("a falsifying input after %d passed (%d shrinks)", res.Succeeded, res.Args[0].Shrinks)
	s.rep.violation(s.violationOf(a.r, a.resp, check, msg, got, want, ""))
	return nil
}

// onlyViolated returns the ID of the one rule v finds violated, or "" when there are none or
// several.
func onlyViolated(v spec.Verdict) string {
	id := ""
	for _, f := range v.Findings {
		if f.Result != spec.Violated {
			continue
		}
		if id != "" {
			return ""
		}
		id = f.Rule
	}
	return id
}

// A draft is one generated request: a value, or none, for each parameter the generator
// varies, on top of Action and Version. gopter prints it with String and shrinks it with
// draftGen.shrinks.
type draft struct {
	base   url.Values // Action and Version; shared, never modified
	fields []field
}

// field is one parameter of a draft: its wire pairs, none when the parameter is absent, and
// the generator's number for the value (an index, an integer, a time offset, a length, an item
// count), which shrinking lowers.
type field struct {
	pairs [][2]string
	n     int64
}

// values returns the draft as request parameters.
func (d draft) values() url.Values {
	n := 0
	for _, f := range d.fields {
		n += len(f.pairs)
	}
	p := make(url.Values, len(d.base)+n)
	for k, v := range d.base {
		p[k] = v
	}
	vals := make([]string, n) // one array for the fields' values, a one-value slice each
	for _, f := range d.fields {
		for _, kv := range f.pairs {
			vals[0] = kv[1]
			p[kv[0]] = vals[:1:1]
			vals = vals[1:]
		}
	}
	return p
}

// String renders the parameters the draft sends, sorted, values quoted where needed.
func (d draft) String() string {
	return renderParams(d.values())
}

func renderParams(p url.Values) string {
	keys := slices.Sorted(maps.Keys(p))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := p.Get(k)
		if v == "" || strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == '"' || r > '~' }) {
			v = strconv.Quote(v)
		}
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, " ")
}

// broken is a draft with one rule broken: the parameters the rule touches are taken from one
// of the operation's boundary cases that violates it.
type broken struct {
	base draft
	bc   *breakCase
}

func (b broken) values() url.Values {
	p := b.base.values()
	for _, name := range b.bc.touched {
		for k := range p {
			if k == name || strings.HasPrefix(k, name+".") {
				delete(p, k)
			}
		}
		for k, v := range b.bc.c.Params {
			if k == name || strings.HasPrefix(k, name+".") {
				p[k] = v
			}
		}
	}
	return p
}

// String names the broken rule and the case, then the request.
func (b broken) String() string {
	return fmt.Sprintf("rule %s broken by %s: %s", b.bc.rule.ID, b.bc.c.Name, renderParams(b.values()))
}

// breakCase is a boundary case that breaks exactly one rule.
type breakCase struct {
	c       spec.Case
	rule    *spec.Rule
	touched []string // the parameters (top-level names) the rule checks or is conditioned on
}

// breakCases returns op's boundary cases that break exactly one rule (never a case that buys a
// subscription), in an order that visits every rule before any rule's second case: so the
// first Options.Cases inputs cover as many rules as they can. rng shuffles within that order.
func breakCases(op *spec.Operation, rng *rand.Rand) []*breakCase {
	byRule := map[string][]*breakCase{}
	var rules []string
	for _, c := range op.Cases() {
		// Keyed on the rule the case breaks, which is not always the rule it was built for:
		// Period=2147483647 is filed under Period.type but breaks only Period.enum.
		broken := onlyViolated(c.Want)
		if c.Want.Outcome != spec.Reject || broken == "" || buysSubscription(op, c.Params) {
			continue
		}
		r := op.Rule(broken)
		if r == nil || r.Auth || slices.Contains(r.Params, rpc.ParamAction) {
			continue
		}
		var touched []string
		for _, name := range r.Params {
			top, _, _ := strings.Cut(name, ".")
			if !slices.Contains(touched, top) {
				touched = append(touched, top)
			}
		}
		if _, ok := byRule[broken]; !ok {
			rules = append(rules, broken)
		}
		byRule[broken] = append(byRule[broken], &breakCase{c: c, rule: r, touched: touched})
	}
	rng.Shuffle(len(rules), func(i, j int) { rules[i], rules[j] = rules[j], rules[i] })
	lists := make([][]*breakCase, len(rules))
	for i, id := range rules {
		// Within a rule, every probe value (the case name before its conditions) before any
		// value's second combination of conditions.
		byProbe := map[string][]*breakCase{}
		var probes []string
		for _, bc := range byRule[id] {
			probe, _, _ := strings.Cut(bc.c.Name, " [")
			if _, ok := byProbe[probe]; !ok {
				probes = append(probes, probe)
			}
			byProbe[probe] = append(byProbe[probe], bc)
		}
		rng.Shuffle(len(probes), func(i, j int) { probes[i], probes[j] = probes[j], probes[i] })
		groups := make([][]*breakCase, len(probes))
		for j, p := range probes {
			cs := byProbe[p]
			rng.Shuffle(len(cs), func(i, j int) { cs[i], cs[j] = cs[j], cs[i] })
			groups[j] = cs
		}
		lists[i] = interleave(groups)
	}
	return interleave(lists)
}

// interleave takes the first element of each list, then the second of each, and so on.
func interleave[T any](lists [][]T) []T {
	var out []T
	for round := 0; ; round++ {
		added := false
		for _, l := range lists {
			if round < len(l) {
				out = append(out, l[round])
				added = true
			}
		}
		if !added {
			return out
		}
	}
}

// draftGen generates drafts for one operation: per parameter, absent (when optional) or a
// value from its enum, a decimal in its range (or a range its rules give), a string of its
// pattern and length, a time in its layout, list items up to MaxItems, or, for identifiers,
// the world's resources and the documents' example (which fixture.place replaces with the
// run's live resources).
type draftGen struct {
	op     *spec.Operation
	base   url.Values
	params []paramGen

	mu       sync.Mutex
	verdicts map[string]spec.Verdict // verdict's memory, by the encoded parameters
}

// verdictMemory bounds draftGen's memory of verdicts; it is forgotten whole when full.
const verdictMemory = 1024

// verdict is the oracle's verdict for params. It is remembered: gopter's sieve, the
// property and the repairs ask about the same parameters several times per input.
func (g *draftGen) verdict(params url.Values) spec.Verdict {
	key := valuesKey(params)
	g.mu.Lock()
	v, ok := g.verdicts[key]
	g.mu.Unlock()
	if ok {
		return v
	}
	v = g.op.Evaluate(params, spec.Options{})
	g.mu.Lock()
	if len(g.verdicts) >= verdictMemory {
		clear(g.verdicts)
	}
	g.verdicts[key] = v
	g.mu.Unlock()
	return v
}

// valuesKey is an exact, cheap key of a set of parameters: the sorted names and their
// values, each prefixed with its length.
func valuesKey(p url.Values) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	n := 0
	for _, k := range keys {
		n += len(k) + 8
		for _, v := range p[k] {
			n += len(v) + 8
		}
	}
	b := make([]byte, 0, n)
	for _, k := range keys {
		b = strconv.AppendInt(b, int64(len(k)), 10)
		b = append(b, ':')
		b = append(b, k...)
		b = strconv.AppendInt(b, int64(len(p[k])), 10)
		for _, v := range p[k] {
			b = append(b, ';')
			b = strconv.AppendInt(b, int64(len(v)), 10)
			b = append(b, ':')
			b = append(b, v...)
		}
		b = append(b, ',')
	}
	return string(b)
}

// acceptable reports whether the oracle accepts params and sending them buys nothing that no
// API call can release.
func (g *draftGen) acceptable(params url.Values) bool {
	return g.verdict(params).Outcome == spec.Accept && !buysSubscription(g.op, params)
}

// paramGen generates one parameter's values.
type paramGen struct {
	name     string
	optional bool
	draw     func(rng *rand.Rand) field
	smaller  func(f field) []field // strictly smaller values, for shrinking
}

func newDraftGen(s *session, op *spec.Operation, base time.Time) *draftGen {
	g := &draftGen{op: op, base: url.Values{rpc.ParamAction: {op.Action}, rpc.ParamVersion: {op.Version}}, verdicts: map[string]spec.Verdict{}}
	for _, p := range op.Parameters {
		if p.Common && p.Name != rpc.ParamFormat {
			continue // Action and Version are fixed; the client adds the signature parameters
		}
		if pg, ok := newParamGen(s, op, p, base); ok {
			g.params = append(g.params, pg)
		}
	}
	return g
}

// draw generates one draft.
func (g *draftGen) draw(rng *rand.Rand) draft {
	d := draft{base: g.base, fields: make([]field, len(g.params))}
	for i, pg := range g.params {
		if pg.optional && rng.Intn(2) == 0 {
			continue
		}
		d.fields[i] = pg.draw(rng)
	}
	return d
}

// shrinks returns the drafts one step smaller than d: an optional parameter dropped, or one
// parameter's value made smaller.
func (g *draftGen) shrinks(d draft) []draft {
	var out []draft
	with := func(i int, f field) {
		fields := slices.Clone(d.fields)
		fields[i] = f
		out = append(out, draft{base: d.base, fields: fields})
	}
	for i, pg := range g.params {
		if pg.optional && len(d.fields[i].pairs) > 0 {
			with(i, field{})
		}
	}
	for i, pg := range g.params {
		if len(d.fields[i].pairs) == 0 || pg.smaller == nil {
			continue
		}
		for _, f := range pg.smaller(d.fields[i]) {
			with(i, f)
		}
	}
	return out
}

// validGen is gopter's generator of drafts keep accepts: it redraws up to drawTries times,
// and keep is also the sieve of its values and their shrinks.
func (g *draftGen) validGen(keep func(draft) bool) gopter.Gen {
	return func(gp *gopter.GenParameters) *gopter.GenResult {
		d := g.drawKept(gp.Rng, keep)
		res := gopter.NewGenResult(d, func(v any) gopter.Shrink { return shrinkList(g.shrinks(v.(draft))) })
		res.Sieve = func(v any) bool { d, ok := v.(draft); return ok && keep(d) }
		return res
	}
}

func (g *draftGen) drawKept(rng *rand.Rand, keep func(draft) bool) draft {
	var d draft
	for range drawTries {
		if d = g.repair(g.draw(rng)); keep(d) {
			break
		}
	}
	return d
}

// repair makes a draft the oracle rejects (or finds ambiguous, or that would buy a
// subscription) valid where dropping optional parameters can: for each rule it finds broken,
// the first optional parameter of the rule that the draft sends (the checked one before the
// conditions') is dropped, and the oracle asked again. Random drafts of operations with many
// inter-parameter rules are rarely valid as drawn; repaired, most are.
func (g *draftGen) repair(d draft) draft {
	for range 8 {
		params := d.values()
		v := g.verdict(params)
		var names []string
		for _, f := range v.Findings {
			if r := g.op.Rule(f.Rule); r != nil {
				names = append(names, r.Params...)
				names = append(names, "\x00") // the end of a rule's parameters
			}
		}
		if buysSubscription(g.op, params) {
			names = append(names, "InstanceChargeType", "\x00")
		}
		if len(names) == 0 {
			return d
		}
		fields := slices.Clone(d.fields)
		dropped := false
		for len(names) > 0 {
			end := slices.Index(names, "\x00")
			for _, name := range names[:end] {
				top, _, _ := strings.Cut(name, ".")
				i := slices.IndexFunc(g.params, func(pg paramGen) bool { return pg.name == top })
				if i >= 0 && g.params[i].optional && len(fields[i].pairs) > 0 {
					fields[i] = field{}
					dropped = true
					break
				}
			}
			names = names[end+1:]
		}
		if !dropped {
			return d
		}
		d = draft{base: d.base, fields: fields}
	}
	return d
}

// brokenGen is gopter's generator of broken requests: the cases in turn (one per input, so
// the inputs cover every rule), each on a valid draft; keep is the sieve, and shrinking
// shrinks the draft under the same case.
func (g *draftGen) brokenGen(cases []*breakCase, keep func(broken) bool) gopter.Gen {
	next := 0
	return func(gp *gopter.GenParameters) *gopter.GenResult {
		bc := cases[next%len(cases)]
		next++
		var b broken
		for range drawTries {
			b = broken{base: g.repair(g.draw(gp.Rng)), bc: bc}
			if keep(b) {
				break
			}
		}
		res := gopter.NewGenResult(b, func(v any) gopter.Shrink {
			b := v.(broken)
			var out []broken
			for _, d := range g.shrinks(b.base) {
				out = append(out, broken{base: d, bc: b.bc})
			}
			return shrinkList(out)
		})
		res.Sieve = func(v any) bool { b, ok := v.(broken); return ok && keep(b) }
		return res
	}
}

// shrinkList is a gopter.Shrink over a finite list.
func shrinkList[T any](list []T) gopter.Shrink {
	i := 0
	return func() (any, bool) {
		if i >= len(list) {
			return nil, false
		}
		i++
		return list[i-1], true
	}
}

// newParamGen returns the generator of one parameter; false for parameters nothing valid can
// be generated for.
func newParamGen(s *session, op *spec.Operation, p *spec.Parameter, base time.Time) (paramGen, bool) {
	pg := paramGen{name: p.Name, optional: !p.Required}
	scalar := func(v func(rng *rand.Rand) (string, int64), smaller func(field) []field) {
		pg.draw = func(rng *rand.Rand) field {
			value, n := v(rng)
			return field{pairs: [][2]string{{p.Name, value}}, n: n}
		}
		pg.smaller = smaller
	}
	switch {
	case p.Type == spec.List || p.Type == spec.ObjectList:
		items := itemGens(op, p, base)
		if items == nil {
			return pg, false
		}
		maxItems := max(p.MaxItems, 1)
		pg.draw = func(rng *rand.Rand) field {
			n := 1 + rng.Intn(maxItems)
			f := field{n: int64(n)}
			for i := 1; i <= n; i++ {
				for _, it := range items {
					name := p.Name + "." + strconv.Itoa(i)
					if it.field != "" {
						name += "." + it.field
					}
					f.pairs = append(f.pairs, [2]string{name, it.draw(rng)})
				}
			}
			return f
		}
		pg.smaller = func(f field) []field {
			var out []field
			for _, n := range smallerInts(1, f.n) {
				out = append(out, field{pairs: f.pairs[:int(n)*len(items)], n: n})
			}
			return out
		}
	case len(p.Enum) > 0:
		scalar(choice(p.Enum, false), smallerChoice(p.Name, p.Enum))
	case p.Type == spec.Boolean:
		vals := []string{"false", "true"}
		scalar(choice(vals, false), smallerChoice(p.Name, vals))
	case p.TimeLayout != "":
		scalar(timeValue(base, p.TimeLayout), smallerTime(p.Name, base, p.TimeLayout))
	case p.Type == spec.Integer || len(ranges(op, p)) > 0:
		rs := ranges(op, p)
		if len(rs) == 0 {
			lo := int64(0)
			if p.Minimum != nil {
				lo = *p.Minimum
			}
			hi := lo + 1000
			if p.Maximum != nil {
				hi = *p.Maximum
			}
			rs = [][2]int64{{lo, hi}}
		}
		lo := rs[0][0]
		for _, r := range rs {
			lo = min(lo, r[0])
		}
		scalar(number(rs), func(f field) []field {
			var out []field
			for _, n := range smallerInts(lo, f.n) {
				out = append(out, field{pairs: [][2]string{{p.Name, strconv.FormatInt(n, 10)}}, n: n})
			}
			return out
		})
	case p.Pattern != "" || p.MinLength != nil || p.MaxLength != nil:
		valid := textValidator(p)
		scalar(text(p, valid), func(f field) []field {
			v := f.pairs[0][1]
			minL := 0
			if p.MinLength != nil {
				minL = *p.MinLength
			}
			var out []field
			for _, n := range smallerInts(int64(minL), int64(utf8.RuneCountInString(v))) {
				w := string([]rune(v)[:n])
				if valid(w) {
					out = append(out, field{pairs: [][2]string{{p.Name, w}}, n: n})
				}
			}
			return out
		})
	default:
		vals := worldValues(s, p.Name)
		if p.Example != "" && !slices.Contains(vals, p.Example) {
			vals = append(vals, p.Example)
		}
		if len(vals) == 0 {
			return pg, false
		}
		scalar(choice(vals, true), smallerChoice(p.Name, vals))
	}
	return pg, true
}

// worldValues returns the world's resources a free-form parameter can name, the run's own
// first.
func worldValues(s *session, name string) []string {
	switch name {
	case "RegionId":
		vals := []string{s.region}
		for _, r := range s.world.Regions {
			if r.ID != s.region {
				vals = append(vals, r.ID)
			}
		}
		return vals
	case "ResourceGroupId":
		return slices.Clone(s.world.ResourceGroups)
	case "PublicIpAddressPoolId":
		return slices.Clone(s.world.PublicIPAddressPools)
	}
	return nil
}

// choice draws one of vals: uniformly, or, with biased, the first three times in four.
func choice(vals []string, biased bool) func(rng *rand.Rand) (string, int64) {
	return func(rng *rand.Rand) (string, int64) {
		i := rng.Intn(len(vals))
		if biased && rng.Intn(4) != 0 {
			i = 0
		}
		return vals[i], int64(i)
	}
}

func smallerChoice(name string, vals []string) func(field) []field {
	return func(f field) []field {
		var out []field
		for _, i := range smallerInts(0, f.n) {
			out = append(out, field{pairs: [][2]string{{name, vals[i]}}, n: i})
		}
		return out
	}
}

// smallerInts returns up to three distinct values in [lo, n): lo, halfway and n-1.
func smallerInts(lo, n int64) []int64 {
	var out []int64
	for _, v := range []int64{lo, lo + (n-lo)/2, n - 1} {
		if v >= lo && v < n && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// ranges returns the decimal ranges a parameter's own schema and its rules give it.
func ranges(op *spec.Operation, p *spec.Parameter) [][2]int64 {
	var out [][2]int64
	for _, r := range op.Rules {
		c := r.Check
		if r.Auth || c.Kind != spec.KindRange || c.Param != p.Name {
			continue
		}
		lo, hi := int64(0), int64(1000)
		if c.Min != nil {
			lo = *c.Min
		}
		if c.Max != nil {
			hi = *c.Max
		} else {
			hi = lo + 1000
		}
		if !slices.Contains(out, [2]int64{lo, hi}) {
			out = append(out, [2]int64{lo, hi})
		}
	}
	return out
}

// number draws a range, then its minimum, its maximum or a value between.
func number(rs [][2]int64) func(rng *rand.Rand) (string, int64) {
	return func(rng *rand.Rand) (string, int64) {
		r := rs[rng.Intn(len(rs))]
		var n int64
		switch rng.Intn(5) {
		case 0:
			n = r[0]
		case 1:
			n = r[1]
		default:
			n = r[0] + rng.Int63n(r[1]-r[0]+1)
		}
		return strconv.FormatInt(n, 10), n
	}
}

// timeValue draws a time up to four hours after base, in whole minutes three times in four.
func timeValue(base time.Time, layout string) func(rng *rand.Rand) (string, int64) {
	return func(rng *rand.Rand) (string, int64) {
		n := int64(rng.Intn(4*60+1)) * 60
		if rng.Intn(4) == 0 {
			n += int64(1 + rng.Intn(59))
		}
		return base.Add(time.Duration(n) * time.Second).Format(layout), n
	}
}

func smallerTime(name string, base time.Time, layout string) func(field) []field {
	return func(f field) []field {
		var out []field
		for _, n := range []int64{0, f.n / 120 * 60, f.n - f.n%60} {
			if n < f.n && !slices.ContainsFunc(out, func(o field) bool { return o.n == n }) {
				out = append(out, field{pairs: [][2]string{{name, base.Add(time.Duration(n) * time.Second).Format(layout)}}, n: n})
			}
		}
		return out
	}
}

// textValidator checks a string against a parameter's own pattern, length and prefixes.
func textValidator(p *spec.Parameter) func(string) bool {
	var re *regexp.Regexp
	if p.Pattern != "" {
		re, _ = regexp.Compile(p.Pattern)
	}
	return func(v string) bool {
		n := utf8.RuneCountInString(v)
		if p.MinLength != nil && n < *p.MinLength || p.MaxLength != nil && n > *p.MaxLength {
			return false
		}
		if re != nil && !re.MatchString(v) {
			return false
		}
		for _, prefix := range p.NotPrefix {
			if strings.HasPrefix(v, prefix) {
				return false
			}
		}
		return true
	}
}

// The alphabets of generated text: rich (spaces and UTF-8, which signatures must
// percent-encode byte by byte) first, then plain.
const (
	richAlphabet  = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._- é中"
	plainAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	letters       = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

// text draws a string valid for p: letters then a rich or plain alphabet, at the minimum or
// maximum length or between (at most 40 characters past the minimum), else a match of the
// pattern itself, else the documents' example.
func text(p *spec.Parameter, valid func(string) bool) func(rng *rand.Rand) (string, int64) {
	minL, maxL := 1, 64
	if p.MinLength != nil {
		minL = max(*p.MinLength, 0)
	}
	if p.MaxLength != nil {
		maxL = *p.MaxLength
	}
	// Built once: the pattern's generator compiles the pattern, and the alphabets are
	// indexed by rune.
	var patternGen gopter.Gen
	if p.Pattern != "" {
		patternGen = gen.RegexMatch(p.Pattern)
	}
	rich, plain := []rune(richAlphabet), []rune(plainAlphabet)
	return func(rng *rand.Rand) (string, int64) {
		for try := range drawTries {
			n := minL
			switch rng.Intn(4) {
			case 0:
			case 1:
				n = maxL
			default:
				n = minL + rng.Intn(min(maxL, minL+40)-minL+1)
			}
			var v string
			switch {
			case try%3 == 2 && patternGen != nil:
				gp := &gopter.GenParameters{MaxSize: n, Rng: rng}
				m, ok := patternGen(gp).Retrieve()
				if !ok {
					continue
				}
				v = m.(string)
				if strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) {
					continue // control characters: valid for the pattern, useless in a report
				}
			default:
				alphabet := rich
				if try%3 == 1 {
					alphabet = plain
				}
				b := make([]rune, n)
				for i := range b {
					b[i] = alphabet[rng.Intn(len(alphabet))]
				}
				if n > 0 {
					b[0] = rune(letters[rng.Intn(len(letters))])
				}
				v = string(b)
			}
			if valid(v) {
				return v, int64(utf8.RuneCountInString(v))
			}
		}
		return p.Example, int64(utf8.RuneCountInString(p.Example))
	}
}

// itemGen draws one list item, or one field of an object-list item.
type itemGen struct {
	field string
	draw  func(rng *rand.Rand) string
}

// itemGens returns the item generators of a list parameter: its item enum, or per field of an
// object list, the field's enum or the time layout a rule gives it; nil when an item cannot be
// generated.
func itemGens(op *spec.Operation, p *spec.Parameter, base time.Time) []itemGen {
	one := func(fieldName string) (func(rng *rand.Rand) string, bool) {
		if vals := p.FieldEnums[fieldName]; len(vals) > 0 {
			c := choice(vals, false)
			return func(rng *rand.Rand) string { v, _ := c(rng); return v }, true
		}
		for _, r := range op.Rules {
			if r.Check.Kind == spec.KindTime && r.Check.Param == p.Name+"."+fieldName {
				t := timeValue(base, r.Check.Layout)
				return func(rng *rand.Rand) string { v, _ := t(rng); return v }, true
			}
		}
		return nil, false
	}
	if p.Type == spec.List {
		d, ok := one("")
		if !ok {
			return nil
		}
		return []itemGen{{draw: d}}
	}
	var out []itemGen
	for _, name := range p.Fields {
		d, ok := one(name)
		if !ok {
			return nil
		}
		out = append(out, itemGen{field: name, draw: d})
	}
	return out
}

package conformance

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eipconform/eipconform/internal/rpc"
)

// Severity of a violation.
type Severity string

// Severities.
const (
	SeverityError   Severity = "error"   // the endpoint breaks the contract
	SeverityWarning Severity = "warning" // the endpoint deviates from the gateway without breaking the contract
)

// Violation is one contract violation (or warning), with everything needed to reproduce it.
type Violation struct {
	Operation string   `json:"operation"`
	Phase     string   `json:"phase"`
	Check     string   `json:"check"`
	Case      string   `json:"case,omitempty"`
	Severity  Severity `json:"severity"`
	Message   string   `json:"message"`
	Got       string   `json:"got"`
	Want      string   `json:"want"`
	// Diff is a (-want +got) diff where structures differ.
	Diff string `json:"diff,omitempty"`
	// Method and Request are the request as sent, Signature redacted.
	Method  string `json:"method,omitempty"`
	Request string `json:"request,omitempty"`
	// Status and Body are the answer (the body's start).
	Status int    `json:"status,omitempty"`
	Body   string `json:"body,omitempty"`
	Seed   int64  `json:"seed"`
	// Counterexample is the shrunk input of a property or command sequence.
	Counterexample string `json:"counterexample,omitempty"`
	Reproduce      string `json:"reproduce"`
}

// String renders the violation for a terminal or a test log: context, got, want, diff,
// request, reproduce.
func (v Violation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s/%s", v.Operation, v.Phase, v.Check)
	if v.Case != "" {
		fmt.Fprintf(&b, " [%s]", v.Case)
	}
	fmt.Fprintf(&b, ": %s: got %s, want %s", v.Message, v.Got, v.Want)
	if v.Diff != "" {
		fmt.Fprintf(&b, "\n  (-want +got):\n%s", indent(v.Diff, "    "))
	}
	if v.Request != "" {
		fmt.Fprintf(&b, "\n  request: %s %s", v.Method, v.Request)
	}
	if v.Status != 0 {
		fmt.Fprintf(&b, "\n  answer: %d %s", v.Status, v.Body)
	}
	if v.Counterexample != "" {
		fmt.Fprintf(&b, "\n  counterexample (shrunk):\n%s", indent(v.Counterexample, "    "))
	}
	fmt.Fprintf(&b, "\n  reproduce: %s", v.Reproduce)
	return b.String()
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n")
}

// Tally counts one operation's results in one phase.
type Tally struct {
	Operation string `json:"operation"`
	Phase     string `json:"phase"`
	Pass      int    `json:"pass"`
	Fail      int    `json:"fail"`
	Skip      int    `json:"skip"`
	// Ambiguous counts answers accepted only because the documents disagree there.
	Ambiguous int `json:"ambiguous"`
}

// Skip is a part of the run that did not happen, and why.
type Skip struct {
	Operation string `json:"operation,omitempty"`
	Phase     string `json:"phase"`
	Reason    string `json:"reason"`
}

// Leftover is a resource the janitor could not clean up.
type Leftover struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// PlannedRequest is a request a dry run would have sent.
type PlannedRequest struct {
	Operation string `json:"operation"`
	Phase     string `json:"phase"`
	Case      string `json:"case,omitempty"`
	Method    string `json:"method"`
	Request   string `json:"request"`
}

// Report is the outcome of a run.
type Report struct {
	Seed     int64  `json:"seed"`
	Endpoint string `json:"endpoint"`
	// DryRun is set when nothing was sent: Plan lists what would have been.
	DryRun bool `json:"dryRun,omitempty"`
	// Partial is set when the run was cancelled before every phase had run.
	Partial  bool      `json:"partial,omitempty"`
	Started  time.Time `json:"started"`
	Duration Duration  `json:"duration"`
	// Cases is the number of requests sent and judged.
	Cases      int              `json:"cases"`
	CasesPerS  float64          `json:"casesPerSecond"`
	Tallies    []Tally          `json:"tallies"`
	Violations []Violation      `json:"violations"`
	Skipped    []Skip           `json:"skipped,omitempty"`
	Leftovers  []Leftover       `json:"leftovers,omitempty"`
	Plan       []PlannedRequest `json:"plan,omitempty"`
	Notes      []string         `json:"notes,omitempty"`

	mu      sync.Mutex
	tallies map[[2]string]*Tally
	results map[[3]string]int // (op, phase, check) -> results recorded
	repro   string            // the flags that reproduce the run's target
}

// Duration is a time.Duration written as a string in JSON.
type Duration struct{ time.Duration }

// MarshalJSON writes the duration as a string such as "1.5s".
func (d Duration) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

type result int

const (
	resultPass result = iota
	resultFail
	resultAmbiguous
)

func newReport(seed int64, t Target, opts Options) *Report {
	r := &Report{Seed: seed, DryRun: opts.DryRun, Started: time.Now().UTC(), tallies: map[[2]string]*Tally{}, results: map[[3]string]int{}}
	switch {
	case t.Handler != nil:
		r.Endpoint = "in-process handler"
	case t.URL != "":
		r.Endpoint = t.URL
		r.repro = " --endpoint " + t.URL
	default:
		var ps []string
		for p, u := range t.Endpoints {
			ps = append(ps, p+"="+u)
			r.repro += fmt.Sprintf(" --endpoint-%s %s", strings.ToLower(p), u)
		}
		slices.Sort(ps)
		r.Endpoint = strings.Join(ps, ", ")
	}
	if t.World != nil {
		r.repro += " --world FILE"
	}
	if opts.Strict {
		r.repro += " --strict"
	}
	return r
}

func (r *Report) tally(op, phase string) *Tally {
	k := [2]string{op, phase}
	t := r.tallies[k]
	if t == nil {
		t = &Tally{Operation: op, Phase: phase}
		r.tallies[k] = t
	}
	return t
}

func (r *Report) count(op, phase, check string, res result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.tally(op, phase)
	switch res {
	case resultPass:
		t.Pass++
	case resultFail:
		t.Fail++
	case resultAmbiguous:
		t.Pass++
		t.Ambiguous++
	}
	r.results[[3]string{op, phase, check}]++
}

// Reproduce returns the command line that reruns one check of this report's run.
func (r *Report) Reproduce(op, phase, check string) string {
	sel := strings.Trim(strings.Join([]string{op, phase, check}, "/"), "/")
	return fmt.Sprintf("eipconform run --seed %d --only %s%s", r.Seed, sel, r.repro)
}

func (r *Report) violation(v Violation) {
	if v.Reproduce == "" {
		v.Reproduce = r.Reproduce(v.Operation, v.Phase, v.Check)
	}
	if v.Severity == "" {
		v.Severity = SeverityError
	}
	if v.Severity == SeverityError {
		r.count(v.Operation, v.Phase, v.Check, resultFail)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Violations = append(r.Violations, v)
}

func (r *Report) skip(op, phase, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.Skipped {
		if s.Operation == op && s.Phase == phase && s.Reason == reason {
			return
		}
	}
	r.Skipped = append(r.Skipped, Skip{Operation: op, Phase: phase, Reason: reason})
	if op != "" {
		r.tally(op, phase).Skip++
	}
}

func (r *Report) plan(req *request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Plan = append(r.Plan, PlannedRequest{Operation: req.op.Action, Phase: req.phase, Case: req.name, Method: methodOf(req.method), Request: rpc.Redacted(req.params)})
}

func (r *Report) leftover(id, why string, err error, resp *rpc.Response) {
	switch {
	case err != nil:
		why += ": " + err.Error()
	case resp != nil && resp.Error != nil:
		why += fmt.Sprintf(": %d %s", resp.Status, resp.Error.Code)
	case resp != nil:
		why += fmt.Sprintf(": status %d", resp.Status)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Leftovers = append(r.Leftovers, Leftover{ID: id, Reason: why})
}

// finish sorts everything, so a run's report does not depend on the order of work.
func (r *Report) finish(d time.Duration, sent int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Duration = Duration{d}
	r.Cases = sent
	if s := d.Seconds(); s > 0 {
		r.CasesPerS = float64(sent) / s
	}
	r.Tallies = r.Tallies[:0]
	for _, t := range r.tallies {
		r.Tallies = append(r.Tallies, *t)
	}
	slices.SortFunc(r.Tallies, func(a, b Tally) int {
		if c := strings.Compare(a.Operation, b.Operation); c != 0 {
			return c
		}
		return slices.Index(Phases, a.Phase) - slices.Index(Phases, b.Phase)
	})
	slices.SortStableFunc(r.Violations, func(a, b Violation) int {
		for _, c := range []int{
			strings.Compare(a.Operation, b.Operation),
			slices.Index(Phases, a.Phase) - slices.Index(Phases, b.Phase),
			strings.Compare(a.Check, b.Check),
			strings.Compare(a.Case, b.Case),
			strings.Compare(a.Request, b.Request),
		} {
			if c != 0 {
				return c
			}
		}
		return 0
	})
	slices.SortFunc(r.Leftovers, func(a, b Leftover) int { return strings.Compare(a.ID+"\x00"+a.Reason, b.ID+"\x00"+b.Reason) })
	slices.SortFunc(r.Skipped, func(a, b Skip) int {
		return strings.Compare(a.Phase+"\x00"+a.Operation+"\x00"+a.Reason, b.Phase+"\x00"+b.Operation+"\x00"+b.Reason)
	})
	slices.SortFunc(r.Plan, func(a, b PlannedRequest) int {
		return strings.Compare(a.Phase+a.Operation+a.Case+a.Request, b.Phase+b.Operation+b.Case+b.Request)
	})
}

// Errors returns the violations of severity error.
func (r *Report) Errors() []Violation {
	var out []Violation
	for _, v := range r.Violations {
		if v.Severity == SeverityError {
			out = append(out, v)
		}
	}
	return out
}

// OK reports whether the run found no violation of severity error.
func (r *Report) OK() bool { return len(r.Errors()) == 0 }

// subtests reports the run through t: a subtest per operation, phase and check.
func (r *Report) subtests(t *testing.T) {
	type key struct{ op, phase, check string }
	byKey := map[key][]Violation{}
	var keys []key
	add := func(k key) {
		if _, ok := byKey[k]; !ok {
			byKey[k] = nil
			keys = append(keys, k)
		}
	}
	for k := range r.results {
		add(key{k[0], k[1], k[2]})
	}
	for _, v := range r.Violations {
		k := key{v.Operation, v.Phase, v.Check}
		add(k)
		byKey[k] = append(byKey[k], v)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return strings.Compare(a.op+"/"+a.phase+"/"+a.check, b.op+"/"+b.phase+"/"+b.check)
	})
	for _, k := range keys {
		name := k.op
		if name == "" {
			name = "protocol"
		}
		t.Run(name+"/"+k.phase+"/"+k.check, func(t *testing.T) {
			for _, v := range byKey[k] {
				if v.Severity == SeverityError {
					t.Error(v.String())
				} else {
					t.Log("warning: " + v.String())
				}
			}
		})
	}
	for _, s := range r.Skipped {
		t.Logf("skipped %s %s: %s", s.Phase, s.Operation, s.Reason)
	}
	for _, l := range r.Leftovers {
		t.Errorf("leftover %s: %s", l.ID, l.Reason)
	}
}

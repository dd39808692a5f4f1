package conformance

import (
	"cmp"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"
)

// WriteText writes the report for a terminal: a table of results per operation and phase
// with the totals, the number of cases and their rate, then the violations (errors first,
// warnings after, each with its reproduce line), what was skipped, the leftovers, the notes
// and a one-line verdict. verbose lists every skipped part with its reason and the plan of a
// dry run; otherwise they are summarized. The output depends only on the report.
func (r *Report) WriteText(w io.Writer, verbose bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ew := &errWriter{w: w}

	fmt.Fprintf(ew, "eipconform run: seed %d, endpoint %s, started %s\n\n", r.Seed, printable(orDash(r.Endpoint)), r.Started.UTC().Format(time.RFC3339))

	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "OPERATION\tPHASE\tPASS\tFAIL\tSKIP\tAMBIGUOUS")
	tallies := r.sortedTallies()
	for _, t := range tallies {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\n", orDash(t.Operation), t.Phase, t.Pass, t.Fail, t.Skip, t.Ambiguous)
	}
	var all Tally
	for _, p := range Phases {
		sum := Tally{Phase: p}
		for _, t := range tallies {
			if t.Phase == p {
				sum.add(t)
			}
		}
		all.add(sum)
		fmt.Fprintf(tw, "TOTAL\t%s\t%d\t%d\t%d\t%d\n", p, sum.Pass, sum.Fail, sum.Skip, sum.Ambiguous)
	}
	fmt.Fprintf(tw, "TOTAL\tall\t%d\t%d\t%d\t%d\n", all.Pass, all.Fail, all.Skip, all.Ambiguous)
	tw.Flush()
	fmt.Fprintln(ew, "PASS and FAIL count the checks made on the answers. AMBIGUOUS passes are answers the\ncontract allows only loosely: the documents disagree there, or the error code is inferred\n(--strict requires it).")

	if r.DryRun {
		fmt.Fprintf(ew, "\ndry run: %d requests planned, none sent\n", len(r.Plan))
	} else {
		fmt.Fprintf(ew, "\n%s in %s (%.0f cases/s)\n", plural(r.Cases, "case"), r.Duration.Round(time.Millisecond), r.CasesPerS)
	}
	if verbose && len(r.Plan) > 0 {
		fmt.Fprintf(ew, "\nPlan (%d requests, in phase order; nothing was sent):\n", len(r.Plan))
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  PHASE\tOPERATION\tMETHOD\tCASE\tREQUEST")
		for _, p := range r.sortedPlan() {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", p.Phase, p.Operation, p.Method, printable(orDash(p.Case)), printable(p.Request))
		}
		tw.Flush()
	}

	var errs, warns []Violation
	for _, v := range r.sortedViolations() {
		if v.Severity == SeverityWarning {
			warns = append(warns, v)
		} else {
			errs = append(errs, v)
		}
	}
	if len(errs) > 0 {
		fmt.Fprintf(ew, "\nViolations (%d):\n", len(errs))
		for _, v := range errs {
			fmt.Fprintf(ew, "\n%s\n", printable(v.String()))
		}
	}
	if len(warns) > 0 {
		fmt.Fprintf(ew, "\nWarnings (%d; they do not fail the run):\n", len(warns))
		for _, v := range warns {
			fmt.Fprintf(ew, "\n%s\n", printable(v.String()))
		}
	}

	r.writeSkipped(ew, verbose)

	if len(r.Leftovers) > 0 {
		fmt.Fprintf(ew, "\nLeftovers (%d; the janitor could not clean them up, remove them by hand):\n", len(r.Leftovers))
		for _, l := range r.sortedLeftovers() {
			fmt.Fprintf(ew, "  %s\n", printable(l.ID+": "+l.Reason))
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(ew, "\nNotes:")
		for _, n := range r.Notes {
			fmt.Fprintf(ew, "  - %s\n", printable(n))
		}
	}

	switch {
	case r.Partial:
		fmt.Fprintf(ew, "\nPARTIAL: the run was interrupted; %s, %s so far\n", plural(len(errs), "violation"), plural(len(warns), "warning"))
	case r.DryRun:
		fmt.Fprintf(ew, "\nDRY RUN: %d requests planned, nothing sent\n", len(r.Plan))
	case len(errs) > 0:
		fmt.Fprintf(ew, "\nFAIL: %s, %s\n", plural(len(errs), "violation"), plural(len(warns), "warning"))
	default:
		fmt.Fprintf(ew, "\nPASS: no violations, %s\n", plural(len(warns), "warning"))
	}
	return ew.err
}

// writeSkipped lists what did not run: whole phases always, each operation's skips when
// verbose, else one line per reason.
func (r *Report) writeSkipped(w io.Writer, verbose bool) {
	if len(r.Skipped) == 0 {
		return
	}
	skips := r.sortedSkipped()
	fmt.Fprintf(w, "\nSkipped (%d):\n", len(skips))
	type group struct {
		reason      string
		ops, phases []string
	}
	var groups []*group
	for _, s := range skips {
		switch {
		case s.Operation == "":
			fmt.Fprintf(w, "  %s: %s\n", s.Phase, s.Reason)
		case verbose:
			fmt.Fprintf(w, "  %s %s: %s\n", s.Phase, s.Operation, s.Reason)
		default:
			i := slices.IndexFunc(groups, func(g *group) bool { return g.reason == s.Reason })
			if i < 0 {
				groups = append(groups, &group{reason: s.Reason})
				i = len(groups) - 1
			}
			g := groups[i]
			if !slices.Contains(g.ops, s.Operation) {
				g.ops = append(g.ops, s.Operation)
			}
			if !slices.Contains(g.phases, s.Phase) {
				g.phases = append(g.phases, s.Phase)
			}
		}
	}
	for _, g := range groups {
		slices.Sort(g.ops)
		fmt.Fprintf(w, "  %s: %s in %s (--verbose lists each)\n", g.reason, strings.Join(g.ops, ", "), plural(len(g.phases), "phase"))
	}
}

// WriteJSON writes the report as indented JSON: the Report's exported fields, with empty
// lists written as [] rather than null.
func (r *Report) WriteJSON(w io.Writer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	type plain Report // no methods
	out := struct {
		*plain
		Tallies    []Tally     `json:"tallies"`
		Violations []Violation `json:"violations"`
	}{(*plain)(r), orEmpty(r.Tallies), orEmpty(r.Violations)}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// UnmarshalJSON reads a duration written by MarshalJSON, so a JSON report decodes back into
// a Report.
func (d *Duration) UnmarshalJSON(data []byte) error {
	s, err := strconv.Unquote(string(data))
	if err != nil {
		return fmt.Errorf("conformance: duration %s: want a quoted duration such as \"1.5s\"", data)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("conformance: duration: %w", err)
	}
	d.Duration = v
	return nil
}

// JUnit XML, in the form CI systems (Jenkins, GitLab, GitHub actions) read.
type (
	junitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Skipped  int          `xml:"skipped,attr"`
		Time     string       `xml:"time,attr"`
		Suites   []junitSuite `xml:"testsuite"`
	}
	junitSuite struct {
		Name       string          `xml:"name,attr"`
		Tests      int             `xml:"tests,attr"`
		Failures   int             `xml:"failures,attr"`
		Errors     int             `xml:"errors,attr"`
		Skipped    int             `xml:"skipped,attr"`
		Timestamp  string          `xml:"timestamp,attr"`
		Properties []junitProperty `xml:"properties>property"`
		Cases      []junitCase     `xml:"testcase"`
	}
	junitProperty struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	}
	junitCase struct {
		Name      string        `xml:"name,attr"`
		Classname string        `xml:"classname,attr"`
		Failure   *junitFailure `xml:"failure"`
		Skipped   *junitSkipped `xml:"skipped"`
		SystemOut string        `xml:"system-out,omitempty"`
	}
	junitFailure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
	junitSkipped struct {
		Message string `xml:"message,attr"`
	}
)

// WriteJUnit writes the report as JUnit XML: a testsuite per phase, in Phases order, and in
// it a testcase per operation and check (classname eipconform.PHASE.OPERATION, name the
// check) that fails with the text of its violations; warnings go to the testcase's
// system-out, skipped parts are skipped testcases. Everything is escaped by encoding/xml;
// characters XML cannot carry become U+FFFD.
func (r *Report) WriteJUnit(w io.Writer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	type key struct{ op, check string }
	byPhase := map[string]map[key][]Violation{}
	keysOf := func(phase string) map[key][]Violation {
		m := byPhase[phase]
		if m == nil {
			m = map[key][]Violation{}
			byPhase[phase] = m
		}
		return m
	}
	hasCheck := map[[2]string]bool{} // (op, phase) with at least one per-check result
	for k := range r.results {
		m := keysOf(k[1])
		if _, ok := m[key{k[0], k[2]}]; !ok {
			m[key{k[0], k[2]}] = nil
		}
		hasCheck[[2]string{k[0], k[1]}] = true
	}
	for _, v := range r.Violations {
		m := keysOf(v.Phase)
		m[key{v.Operation, v.Check}] = append(m[key{v.Operation, v.Check}], v)
		hasCheck[[2]string{v.Operation, v.Phase}] = true
	}
	// A report made by hand (or decoded from JSON) has tallies but no per-check results:
	// each tally becomes one testcase.
	for _, t := range r.Tallies {
		if !hasCheck[[2]string{t.Operation, t.Phase}] && t.Pass+t.Fail > 0 {
			keysOf(t.Phase)[key{t.Operation, "all checks"}] = nil
		}
	}

	phases := slices.Clone(Phases)
	for p := range byPhase {
		if !slices.Contains(phases, p) {
			phases = append(phases, p)
		}
	}
	slices.SortStableFunc(phases[len(Phases):], strings.Compare)

	doc := junitSuites{Name: "eipconform", Time: seconds(r.Duration.Duration)}
	for _, p := range phases {
		suite := junitSuite{
			Name: p, Timestamp: r.Started.UTC().Format("2006-01-02T15:04:05"),
			Properties: []junitProperty{{"seed", strconv.FormatInt(r.Seed, 10)}, {"endpoint", r.Endpoint}},
		}
		keys := slices.SortedFunc(func(yield func(key) bool) {
			for k := range byPhase[p] {
				if !yield(k) {
					return
				}
			}
		}, func(a, b key) int { return cmp.Or(strings.Compare(a.op, b.op), strings.Compare(a.check, b.check)) })
		for _, k := range keys {
			c := junitCase{Name: k.check, Classname: classname(p, k.op)}
			var failures, warnings []string
			for _, v := range sortViolations(byPhase[p][k]) {
				if v.Severity == SeverityWarning {
					warnings = append(warnings, "warning: "+v.String())
				} else {
					failures = append(failures, v.String())
				}
			}
			if len(failures) > 0 {
				first := byPhase[p][k][0].Message
				for _, v := range sortViolations(byPhase[p][k]) {
					if v.Severity != SeverityWarning {
						first = v.Message
						break
					}
				}
				c.Failure = &junitFailure{
					Message: fmt.Sprintf("%s: %s", plural(len(failures), "violation"), first),
					Type:    string(SeverityError),
					Text:    strings.Join(failures, "\n\n"),
				}
				suite.Failures++
			}
			c.SystemOut = strings.Join(warnings, "\n\n")
			suite.Cases = append(suite.Cases, c)
		}
		for _, s := range r.sortedSkipped() {
			if s.Phase != p {
				continue
			}
			suite.Cases = append(suite.Cases, junitCase{Name: "skipped: " + s.Reason, Classname: classname(p, s.Operation), Skipped: &junitSkipped{Message: s.Reason}})
			suite.Skipped++
		}
		suite.Tests = len(suite.Cases)
		doc.Tests += suite.Tests
		doc.Failures += suite.Failures
		doc.Skipped += suite.Skipped
		doc.Suites = append(doc.Suites, suite)
	}
	ew := &errWriter{w: w}
	io.WriteString(ew, xml.Header)
	enc := xml.NewEncoder(ew)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	io.WriteString(ew, "\n")
	return ew.err
}

// classname is a JUnit classname: eipconform.PHASE.OPERATION, or eipconform.PHASE for what
// concerns no single operation.
func classname(phase, op string) string {
	if op == "" {
		return "eipconform." + phase
	}
	return "eipconform." + phase + "." + op
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

func (t *Tally) add(u Tally) {
	t.Pass += u.Pass
	t.Fail += u.Fail
	t.Skip += u.Skip
	t.Ambiguous += u.Ambiguous
}

// The sorted* methods return sorted copies, so a report written before finish (or made by
// hand) reads the same as one finish sorted.

func (r *Report) sortedTallies() []Tally {
	return slices.SortedStableFunc(slices.Values(r.Tallies), func(a, b Tally) int {
		return cmp.Or(compareOps(a.Operation, b.Operation), comparePhases(a.Phase, b.Phase))
	})
}

func (r *Report) sortedViolations() []Violation { return sortViolations(r.Violations) }

func sortViolations(vs []Violation) []Violation {
	return slices.SortedStableFunc(slices.Values(vs), func(a, b Violation) int {
		return cmp.Or(compareOps(a.Operation, b.Operation), comparePhases(a.Phase, b.Phase),
			strings.Compare(a.Check, b.Check), strings.Compare(a.Case, b.Case), strings.Compare(a.Request, b.Request))
	})
}

func (r *Report) sortedSkipped() []Skip {
	return slices.SortedStableFunc(slices.Values(r.Skipped), func(a, b Skip) int {
		return cmp.Or(comparePhases(a.Phase, b.Phase), strings.Compare(a.Operation, b.Operation), strings.Compare(a.Reason, b.Reason))
	})
}

func (r *Report) sortedPlan() []PlannedRequest {
	return slices.SortedStableFunc(slices.Values(r.Plan), func(a, b PlannedRequest) int {
		return cmp.Or(comparePhases(a.Phase, b.Phase), strings.Compare(a.Operation, b.Operation),
			strings.Compare(a.Case, b.Case), strings.Compare(a.Request, b.Request))
	})
}

func (r *Report) sortedLeftovers() []Leftover {
	return slices.SortedStableFunc(slices.Values(r.Leftovers), func(a, b Leftover) int { return strings.Compare(a.ID, b.ID) })
}

// compareOps orders operations by name, with what concerns no single operation ("") last.
func compareOps(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "":
		return 1
	case b == "":
		return -1
	}
	return strings.Compare(a, b)
}

// comparePhases orders phases as they run; unknown phases come after, by name.
func comparePhases(a, b string) int {
	i, j := slices.Index(Phases, a), slices.Index(Phases, b)
	if i < 0 {
		i = len(Phases)
	}
	if j < 0 {
		j = len(Phases)
	}
	return cmp.Or(i-j, strings.Compare(a, b))
}

// printable escapes what a terminal would interpret rather than show: control characters
// other than newline and tab, and invalid UTF-8. An endpoint's answer is quoted in the
// report, and an answer must not be able to move the cursor or recolour the terminal.
func printable(s string) string {
	ok := true
	for _, c := range s {
		if c == utf8.RuneError || unicode.IsControl(c) && c != '\n' && c != '\t' {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		switch {
		case c == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				fmt.Fprintf(&b, `\x%02x`, s[i])
			} else {
				b.WriteRune(c)
			}
		case unicode.IsControl(c) && c != '\n' && c != '\t':
			q := strconv.QuoteRuneToASCII(c)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// errWriter keeps the first write error and drops everything after it.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return len(p), nil
	}
	if _, err := e.w.Write(p); err != nil {
		e.err = err
	}
	return len(p), nil
}

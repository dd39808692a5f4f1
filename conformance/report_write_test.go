package conformance

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// updateGoldens is -update: rewrite the goldens under testdata/ instead of comparing. It is
// registered only if no other test file of the package registered -update first.
var updateGoldens = func() func() bool {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata/")
	}
	return func() bool { return flag.Lookup("update").Value.String() == "true" }
}()

// golden compares got with testdata/name, or rewrites the file under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if updateGoldens() {
		if err := os.MkdirAll("testdata", 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o666); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// nasty is a response body with everything XML and terminals trip over.
const nasty = "<Error><Code>A&B</Code>]]><![CDATA[x]]> \"quoted\" 'single' \x00\x1b[31m é 中 \U0001F600</Error>"

// sampleReport is a report of a run made by hand: two operations in two phases, a check
// counted for the protocol phase as a whole, an error, a warning, skips, a leftover, a note.
func sampleReport() *Report {
	r := newReport(42, Target{URL: "http://127.0.0.1:8080"}, Options{Strict: true})
	for range 3 {
		r.count("AllocateEipAddress", PhaseBoundaries, CheckStatus, resultPass)
		r.count("AllocateEipAddress", PhaseBoundaries, CheckSchema, resultPass)
	}
	r.count("AllocateEipAddress", PhaseBoundaries, CheckStatus, resultAmbiguous)
	r.count("ReleaseEipAddress", PhaseExamples, CheckStatus, resultPass)
	r.count("ReleaseEipAddress", PhaseExamples, CheckFormat, resultPass)
	r.count("", PhaseProtocol, "nonce-reuse", resultPass)
	r.violation(Violation{
		Operation: "AllocateEipAddress", Phase: PhaseBoundaries, Check: CheckStatus,
		Case: "Bandwidth=201 (rule bandwidth-postpaid-paybytraffic)", Seed: 42,
		Message: "the answer is not what the contract requires for these parameters",
		Got:     "200 (no code)", Want: "reject: 400 InvalidParameter (documented; bandwidth-postpaid-paybytraffic)",
		Method: "POST", Request: "Action=AllocateEipAddress&Bandwidth=201&Signature=REDACTED",
		Status: 200, Body: nasty,
	})
	r.violation(Violation{
		Operation: "ReleaseEipAddress", Phase: PhaseExamples, Check: CheckErrorBody, Severity: SeverityWarning,
		Message: "the error body lacks optional fields the gateway sends", Got: "missing HostId", Want: "HostId and Recommend",
		Method: "POST", Request: "Action=ReleaseEipAddress", Status: 404, Body: `{"Code":"InvalidAllocationId.NotFound"}`, Seed: 42,
	})
	r.violation(Violation{
		Operation: "AllocateEipAddress", Phase: PhaseBoundaries, Check: CheckSchema, Seed: 42,
		Message: "the success body does not match the response schema", Got: "EipAddress: not an IPv4 address", Want: "the schema",
		Diff: "-\t\"EipAddress\": \"192.0.2.1\"\n+\t\"EipAddress\": \"nowhere\"", Counterexample: "Bandwidth=5",
	})
	r.skip("AllocateEipAddress", PhaseBoundaries, "cases that would buy a subscription (PrePaid) EIP, which no API call can release")
	r.skip("ReleaseEipAddress", PhaseBoundaries, "mutating operation on a non-loopback endpoint (AllowMutations not set)")
	r.skip("AllocateEipAddress", PhaseExamples, "mutating operation on a non-loopback endpoint (AllowMutations not set)")
	r.skip("", PhaseStateful, "not selected")
	r.leftover("eip-left1", "could not release it", nil, nil)
	r.Notes = append(r.Notes, "the endpoint is not on loopback: operations that create or change resources are skipped")
	r.finish(1500*time.Millisecond, 12)
	r.Started = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	return r
}

// dryRunReport is a dry run's report: a plan and the mutations it would skip.
func dryRunReport() *Report {
	r := newReport(1, Target{URL: "http://192.0.2.1:9"}, Options{DryRun: true})
	r.Plan = []PlannedRequest{
		{Operation: "DescribeEipAddresses", Phase: PhaseBoundaries, Case: "PageSize=51 (rule PageSize.range)", Method: "POST", Request: "Action=DescribeEipAddresses&PageSize=51"},
		{Operation: "DescribeEipAddresses", Phase: PhaseExamples, Case: "the documents' sample request", Method: "GET", Request: "Action=DescribeEipAddresses"},
	}
	r.skip("AllocateEipAddress", PhaseBoundaries, "mutating operation on a non-loopback endpoint (AllowMutations not set)")
	r.skip("ReleaseEipAddress", PhaseBoundaries, "mutating operation on a non-loopback endpoint (AllowMutations not set)")
	r.finish(2*time.Millisecond, 0)
	r.Started = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	return r
}

func TestWriteText(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rep     *Report
		verbose bool
	}{
		{"report.txt", sampleReport(), false},
		{"report_verbose.txt", sampleReport(), true},
		{"dryrun.txt", dryRunReport(), false},
		{"dryrun_verbose.txt", dryRunReport(), true},
		{"empty.txt", &Report{}, false},
		{"partial.txt", func() *Report { r := dryRunReport(); r.DryRun, r.Plan, r.Partial = false, nil, true; return r }(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.rep.WriteText(&b, tc.verbose); err != nil {
				t.Fatalf("WriteText: %v", err)
			}
			golden(t, tc.name, b.Bytes())
		})
	}
}

// TestWriteTextIsDeterministic guards the promise that the text depends only on the report,
// not on the order its parts were recorded in.
func TestWriteTextIsDeterministic(t *testing.T) {
	a := sampleReport()
	b := sampleReport()
	reverse := func(r *Report) {
		for i, j := 0, len(r.Violations)-1; i < j; i, j = i+1, j-1 {
			r.Violations[i], r.Violations[j] = r.Violations[j], r.Violations[i]
		}
		for i, j := 0, len(r.Tallies)-1; i < j; i, j = i+1, j-1 {
			r.Tallies[i], r.Tallies[j] = r.Tallies[j], r.Tallies[i]
		}
		for i, j := 0, len(r.Skipped)-1; i < j; i, j = i+1, j-1 {
			r.Skipped[i], r.Skipped[j] = r.Skipped[j], r.Skipped[i]
		}
	}
	reverse(b)
	for _, verbose := range []bool{false, true} {
		var x, y bytes.Buffer
		a.WriteText(&x, verbose)
		b.WriteText(&y, verbose)
		if diff := cmp.Diff(x.String(), y.String()); diff != "" {
			t.Errorf("WriteText(verbose=%t) depends on the order of the report's lists (-in order +reversed):\n%s", verbose, diff)
		}
	}
}

// TestWriteTextOrder guards what a reader looks for: errors before warnings, every
// violation with its reproduce line, the verdict last.
func TestWriteTextOrder(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteText(&b, false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	errAt := strings.Index(out, "Violations (2):")
	warnAt := strings.Index(out, "Warnings (1;")
	if errAt < 0 || warnAt < 0 || errAt > warnAt {
		t.Errorf("WriteText: Violations at %d, Warnings at %d; want both, errors first:\n%s", errAt, warnAt, out)
	}
	if got, want := strings.Count(out, "reproduce: eipconform run --seed 42 --only "), 3; got != want {
		t.Errorf("WriteText: %d reproduce lines, want %d", got, want)
	}
	if !strings.HasSuffix(out, "\nFAIL: 2 violations, 1 warning\n") {
		t.Errorf("WriteText ends %q, want the verdict FAIL: 2 violations, 1 warning", out[max(0, len(out)-80):])
	}
	if !strings.Contains(out, "\n12 cases in 1.5s (8 cases/s)\n") {
		t.Errorf("WriteText: no line %q in\n%s", "12 cases in 1.5s (8 cases/s)", out)
	}
}

func TestWriteJSON(t *testing.T) {
	rep := sampleReport()
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	golden(t, "report.json", b.Bytes())

	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatalf("the JSON report does not decode into a Report: %v", err)
	}
	if diff := cmp.Diff(rep.Violations, back.Violations); diff != "" {
		t.Errorf("violations after a JSON round trip mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(rep.Tallies, back.Tallies); diff != "" {
		t.Errorf("tallies after a JSON round trip mismatch (-want +got):\n%s", diff)
	}
	if back.Duration != rep.Duration || back.Seed != rep.Seed || !back.Started.Equal(rep.Started) {
		t.Errorf("after a JSON round trip: duration %v, seed %d, started %v; want %v, %d, %v",
			back.Duration, back.Seed, back.Started, rep.Duration, rep.Seed, rep.Started)
	}

	// Empty lists are [], not null, for consumers in other languages.
	b.Reset()
	if err := (&Report{}).WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"violations": []`, `"tallies": []`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("WriteJSON of an empty report lacks %s:\n%s", want, b.String())
		}
	}
}

func TestWriteJUnit(t *testing.T) {
	rep := sampleReport()
	var b bytes.Buffer
	if err := rep.WriteJUnit(&b); err != nil {
		t.Fatalf("WriteJUnit: %v", err)
	}
	golden(t, "report.xml", b.Bytes())

	// The document is well-formed and reads back with the counts and the violation text.
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("the JUnit report does not parse: %v\n%s", err, b.String())
	}
	var names []string
	for _, s := range doc.Suites {
		names = append(names, s.Name)
	}
	if diff := cmp.Diff(Phases, names); diff != "" {
		t.Errorf("testsuites mismatch (-want +got):\n%s", diff)
	}
	if doc.Tests != 10 || doc.Failures != 2 || doc.Skipped != 4 {
		t.Errorf("testsuites: tests=%d failures=%d skipped=%d, want 10, 2, 4", doc.Tests, doc.Failures, doc.Skipped)
	}
	var failed []string
	var status *junitCase
	for _, s := range doc.Suites {
		for i, c := range s.Cases {
			if c.Failure != nil {
				failed = append(failed, c.Classname+" "+c.Name)
			}
			if c.Classname == "eipconform.boundaries.AllocateEipAddress" && c.Name == CheckStatus {
				status = &s.Cases[i]
			}
		}
	}
	if diff := cmp.Diff([]string{"eipconform.boundaries.AllocateEipAddress schema", "eipconform.boundaries.AllocateEipAddress status"}, failed); diff != "" {
		t.Errorf("failed testcases mismatch (-want +got):\n%s", diff)
	}
	if status == nil || status.Failure == nil {
		t.Fatalf("no failed testcase eipconform.boundaries.AllocateEipAddress status")
	}
	// The body comes back as written, but for the characters XML cannot carry (NUL, ESC).
	want := strings.NewReplacer("\x00", "\uFFFD", "\x1b", "\uFFFD").Replace(nasty)
	if !strings.Contains(status.Failure.Text, "answer: 200 "+want) {
		t.Errorf("the failure text lacks the answer's body %q:\n%s", want, status.Failure.Text)
	}
	if !strings.Contains(status.Failure.Text, "reproduce: eipconform run --seed 42 --only AllocateEipAddress/boundaries/status --endpoint http://127.0.0.1:8080 --strict") {
		t.Errorf("the failure text lacks the reproduce line:\n%s", status.Failure.Text)
	}
}

// TestWriteJUnitFromTallies guards reports without per-check results (made by hand or
// decoded from JSON): each tally is one testcase.
func TestWriteJUnitFromTallies(t *testing.T) {
	rep := &Report{Tallies: []Tally{{Operation: "ReleaseEipAddress", Phase: PhaseExamples, Pass: 3}}}
	var b bytes.Buffer
	if err := rep.WriteJUnit(&b); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tests != 1 || doc.Suites[0].Cases[0].Classname != "eipconform.examples.ReleaseEipAddress" {
		t.Errorf("JUnit from a tally: %+v, want one testcase eipconform.examples.ReleaseEipAddress", doc)
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain\ttext\n":         "plain\ttext\n",
		"é 中 \U0001F600 \uFFFD": "é 中 \U0001F600 \uFFFD",
		"\x1b[2J\rover\x00":     `\x1b[2J\rover\x00`,
		"bad \xff\xfe utf-8":    `bad \xff\xfe utf-8`,
		"c1 \u0085 \u009b31m":   `c1 \u0085 \u009b31m`,
		"del \x7f":              `del \x7f`,
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWritersReportWriteErrors(t *testing.T) {
	rep := sampleReport()
	for name, write := range map[string]func() error{
		"WriteText":  func() error { return rep.WriteText(failingWriter{}, true) },
		"WriteJSON":  func() error { return rep.WriteJSON(failingWriter{}) },
		"WriteJUnit": func() error { return rep.WriteJUnit(failingWriter{}) },
	} {
		if err := write(); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("%s to a failing writer = %v, want the write error", name, err)
		}
	}
}

package conformance_test

import (
	"bytes"
	"io"
	"net/url"
	"slices"

	"context"
	"github.com/google/go-cmp/cmp"
	"net/http"
	"strings"
	"testing"

	"github.com/eipconform/eipconform/conformance"
	"github.com/eipconform/eipconform/emulator"
)

// newSequences returns Sequences against a fresh in-process emulator (no signatures: the
// target fuzzes the lifecycle, not the gateway), wrapped by wrap when not nil.
func newSequences(tb testing.TB, wrap func(http.Handler) http.Handler) *conformance.Sequences {
	tb.Helper()
	srv, err := emulator.New(emulator.Options{NoAuth: true})
	if err != nil {
		tb.Fatal(err)
	}
	var h http.Handler = srv
	if wrap != nil {
		h = wrap(h)
	}
	seq, err := conformance.NewSequences(context.Background(), conformance.Target{Handler: h, NoAuth: true}, conformance.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(seq.Close)
	return seq
}

// sequenceSeeds are byte strings that decode into sequences touching every command kind.
var sequenceSeeds = [][]byte{
	{},
	{0, 0, 0},
	{0, 0, 0, 3, 0, 0, 6, 0, 0},
	[]byte("allocate associate describe unassociate release"),
	{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35},
	[]byte(strings.Repeat("\xff\x80\x40\x20\x10\x08\x04\x02\x01", 8)),
}

// FuzzStateful decodes its input into a short lifecycle sequence and checks the emulator
// against the stateful phase's model: any violation is a bug in the emulator or the model.
func FuzzStateful(f *testing.F) {
	for _, s := range sequenceSeeds {
		f.Add(s)
	}
	seq := newSequences(f, nil)
	f.Fuzz(func(t *testing.T, data []byte) { checkClean(t, seq, data) })
}

// checkClean runs one input and fails t on every violation, or if it could not run.
func checkClean(t *testing.T, seq *conformance.Sequences, data []byte) {
	t.Helper()
	vs, err := seq.Check(data)
	if err != nil {
		t.Fatalf("Sequences.Check(%q) = %v", data, err)
	}
	for _, v := range vs {
		t.Errorf("Sequences.Check(%q): %s", data, v)
	}
}

// TestSequencesCatchBrokenEndpoints: the sequences find what the stateful phase finds, under
// the same checks, for some input among the seeds and a few more.
func TestSequencesCatchBrokenEndpoints(t *testing.T) {
	for _, tc := range []struct {
		name  string
		wrap  func(http.Handler) http.Handler
		check string
	}{
		{"released EIP still listed", releasedStillListed, conformance.CheckUseAfterRelease},
		{"TotalCount off by one", totalCountOffByOne, conformance.CheckPagination},
		{"associating an InUse EIP accepted", associateInUseAccepted, conformance.CheckLifecycle},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seq := newSequences(t, tc.wrap)
			var got []string
			for i := range 64 {
				data := []byte(strings.Repeat(string(rune('a'+i%26)), 3*(5+i%15)))
				for j := range data {
					data[j] += byte(j * i)
				}
				vs, err := seq.Check(data)
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				for _, v := range vs {
					got = append(got, v.Check)
					if v.Check == tc.check {
						return
					}
				}
			}
			t.Errorf("no %s violation in 64 sequences; checks violated: %v", tc.check, got)
		})
	}
}

// TestSequencesPassOnTheEmulator: the seeds and a spread of inputs find nothing wrong with the
// reference emulator, and the same input decodes into the same sequence.
func TestSequencesPassOnTheEmulator(t *testing.T) {
	seq := newSequences(t, nil)
	inputs := append([][]byte(nil), sequenceSeeds...)
	for i := range 40 {
		b := make([]byte, 3*(i%21))
		for j := range b {
			b[j] = byte(i*31 + j*17)
		}
		inputs = append(inputs, b)
	}
	for _, in := range inputs {
		checkClean(t, seq, in)
	}
}

// TestSequencesDecodeDeterministically: one input sends the same actions each time, and a
// longer input sends more of them.
func TestSequencesDecodeDeterministically(t *testing.T) {
	var actions []string
	record := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			form, _ := url.ParseQuery(string(body))
			actions = append(actions, form.Get("Action")+r.URL.Query().Get("Action"))
			r.Body = io.NopCloser(bytes.NewReader(body))
			h.ServeHTTP(w, r)
		})
	}
	seq := newSequences(t, record)
	run := func(in []byte) []string {
		actions = nil
		if vs, err := seq.Check(in); err != nil || len(vs) > 0 {
			t.Fatalf("Check(%q) = %v, %v", in, vs, err)
		}
		return actions
	}
	in := sequenceSeeds[4]
	first, second := run(in), run(in)
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("two runs of one input sent different actions (-first +second):\n%s", diff)
	}
	short := run(in[:6])
	if len(first) <= len(short) {
		t.Errorf("%d-byte input sent %d requests, its 6-byte prefix %d; want more for the longer", len(in), len(first), len(short))
	}
	for _, want := range []string{"AllocateEipAddress", "DescribeEipAddresses", "ReleaseEipAddress"} {
		if !slices.Contains(first, want) {
			t.Errorf("input %q sent no %s; actions: %v", in, want, first)
		}
	}
}

package conformance_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eipconform/eipconform/conformance"
	"github.com/eipconform/eipconform/emulator"
	"github.com/eipconform/eipconform/spec"
	"github.com/google/go-cmp/cmp"
)

// embedded returns a fresh emulator as a target, with the documents' example key.
func embedded(t testing.TB, opts emulator.Options) conformance.Target {
	t.Helper()
	srv, err := emulator.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	sig := spec.Default().Signature
	return conformance.Target{Handler: srv, AccessKeyID: sig.ExampleAccessKeyID, AccessKeySecret: sig.ExampleAccessKeySecret, NoAuth: opts.NoAuth}
}

// TestRunAgainstTheEmulator is what an emulator author writes: the library against their
// endpoint (ours), with no violation.
func TestRunAgainstTheEmulator(t *testing.T) {
	conformance.Run(t, embedded(t, emulator.Options{}))
}

// TestCheckClosesItsConnections: when Check returns, every connection it opened to the
// endpoint is closed (its transport keeps idle connections, with nothing watching them).
func TestCheckClosesItsConnections(t *testing.T) {
	srv, err := emulator.New(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var opened, closed atomic.Int64
	ts := httptest.NewUnstartedServer(srv)
	ts.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			closed.Add(1)
		}
	}
	ts.Start()
	defer ts.Close()
	target := loopbackTarget(ts.URL)
	rep, err := conformance.Check(context.Background(), target, conformance.Options{Only: []string{conformance.PhaseBoundaries}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Cases == 0 || opened.Load() == 0 {
		t.Fatalf("Check sent %d cases on %d connections, want some", rep.Cases, opened.Load())
	}
	deadline := time.Now().Add(5 * time.Second)
	for closed.Load() < opened.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the server notices a close when it reads
	}
	if o, c := opened.Load(), closed.Load(); c != o {
		t.Errorf("after Check returned: %d of the %d connections it opened are closed, want all", c, o)
	}
}

// TestBesideStatefulChangesNothing: running some operations' boundary and property cases
// beside the stateful phase (the default) checks exactly what running them before it does:
// the same tallies, per operation, for both phases, and no violation either way.
func TestBesideStatefulChangesNothing(t *testing.T) {
	tallies := func(opts conformance.Options) []conformance.Tally {
		t.Helper()
		rep, err := conformance.Check(t.Context(), embedded(t, emulator.Options{}), opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range rep.Violations {
			t.Errorf("Check(%+v): [%s] %s", opts, v.Severity, v)
		}
		var out []conformance.Tally
		for _, ta := range rep.Tallies {
			if ta.Phase == conformance.PhaseBoundaries || ta.Phase == conformance.PhaseProperties {
				out = append(out, ta)
			}
		}
		return out
	}
	beside := tallies(conformance.Options{Seed: 3, Cases: 20})
	before := tallies(conformance.Options{Seed: 3, Cases: 20, Skip: []string{conformance.PhaseStateful}})
	if len(beside) == 0 {
		t.Fatal("no boundaries or properties tallies")
	}
	if diff := cmp.Diff(before, beside); diff != "" {
		t.Errorf("tallies of the boundaries and properties phases, run before (want) and beside (got) the stateful phase (-want +got):\n%s\nreproduce: go test ./conformance -run TestBesideStatefulChangesNothing", diff)
	}
}

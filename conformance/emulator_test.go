package conformance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eipconform/eipconform/conformance"
	"github.com/eipconform/eipconform/emulator"
	"github.com/eipconform/eipconform/internal/rpc"
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

// TestCancelMidAllocation: a run cancelled while an allocation is on its way still learns
// what it allocated, and its janitor releases it: the region ends as empty as it began.
func TestCancelMidAllocation(t *testing.T) {
	srv, err := emulator.New(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var once sync.Once
	target := embedded(t, emulator.Options{})
	allocated := false
	target.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, r)
		if form.Get("Action") == "AllocateEipAddress" && rec.Code == http.StatusOK {
			// The endpoint has allocated; the run is cancelled before the answer leaves. A
			// client that gives up closes the connection, which ends the wait at once.
			once.Do(func() {
				allocated = true
				cancel()
				select {
				case <-r.Context().Done():
				case <-time.After(200 * time.Millisecond):
				}
			})
		}
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
	rep, err := conformance.Check(ctx, target, conformance.Options{Only: []string{conformance.PhaseBoundaries}})
	if err != nil {
		t.Fatal(err)
	}
	if !allocated || !rep.Partial {
		t.Fatalf("the endpoint allocated: %v, Report.Partial: %v; want both (the run was cancelled mid-allocation)", allocated, rep.Partial)
	}
	for _, l := range rep.Leftovers {
		t.Errorf("leftover %s: %s", l.ID, l.Reason)
	}
	sig := spec.Default().Signature
	c := &rpc.Client{Endpoint: serveLoopback(t, srv), AccessKeyID: sig.ExampleAccessKeyID, AccessKeySecret: sig.ExampleAccessKeySecret}
	for _, region := range emulator.DefaultWorld().Regions {
		p := spec.Default().Operation("DescribeEipAddresses").BaseRequest()
		p.Set("RegionId", region.ID)
		resp, err := c.Do(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		var d struct{ TotalCount int }
		if err := json.Unmarshal(resp.Body, &d); err != nil || resp.Status != http.StatusOK {
			t.Fatalf("DescribeEipAddresses in %s: %d %s", region.ID, resp.Status, resp.Body)
		}
		if d.TotalCount != 0 {
			t.Errorf("after a run cancelled mid-allocation, %s has %d EIPs, want 0 (the janitor releases them): %s", region.ID, d.TotalCount, resp.Body)
		}
	}
}

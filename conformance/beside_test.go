package conformance

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eipconform/eipconform/spec"
	"github.com/google/go-cmp/cmp"
)

// TestBesideStateful: the operations whose boundary and property cases run beside the
// stateful phase are those that change no EIP or instance and need no EIP of their own, one
// at a time; none when the stateful phase is not selected or the run is one thing at a time.
func TestBesideStateful(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    Options
		want    []string
		workers int
	}{
		{"default", Options{}, []string{"DescribeEipGatewayInfo", "OpenPublicIpAddressPoolService", "OpenVpcIpamService"}, 1},
		{"8 workers", Options{Workers: 8}, []string{"DescribeEipGatewayInfo", "OpenPublicIpAddressPoolService", "OpenVpcIpamService"}, 1},
		{"stateful skipped", Options{Skip: []string{PhaseStateful}}, nil, 0},
		{"stateful not in only", Options{Only: []string{"OpenVpcIpamService/boundaries"}}, nil, 0},
		{"one worker", Options{Workers: 1}, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, closeFn, err := newSession(Target{URL: "http://127.0.0.1:9", AccessKeyID: "id", AccessKeySecret: "secret"}, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer closeFn()
			sc := s.besideStateful()
			var got []string
			for _, op := range sc.ops {
				got = append(got, op.Action)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("besideStateful(%+v) operations (-want +got):\n%s", tc.opts, diff)
			}
			if sc.workers != tc.workers {
				t.Errorf("besideStateful(%+v).workers = %d, want %d", tc.opts, sc.workers, tc.workers)
			}
			for _, op := range sc.ops {
				if op.ChangesAny(statefulModels...) || needsEIP(op) {
					t.Errorf("%s runs beside the stateful phase, but changes %v or needs an EIP", op.Action, op.Changes)
				}
			}
		})
	}
}

// TestWithout keeps the order and drops exactly the given operations.
func TestWithout(t *testing.T) {
	ops := spec.Default().Operations
	drop := []*spec.Operation{ops[1], ops[len(ops)-1]}
	got := without(ops, drop)
	if len(got) != len(ops)-2 {
		t.Fatalf("without: %d operations, want %d", len(got), len(ops)-2)
	}
	want := slices.Clone(ops[:len(ops)-1])
	want = slices.Delete(want, 1, 2)
	if !slices.Equal(got, want) {
		t.Errorf("without dropped the wrong operations or changed their order")
	}
}

// TestRunBesideOverlaps: the owed phases run while the stateful phase runs (each waits for
// the other to have started, which only overlapping runs can do), in phase order, on the
// scope given, and the errors of both sides come back.
func TestRunBesideOverlaps(t *testing.T) {
	s := &session{spec: spec.Default(), opts: Options{Workers: 4}}
	sc := scope{ops: s.spec.Operations[:2], workers: 1}
	statefulStarted, owedStarted := make(chan struct{}), make(chan struct{})
	wait := func(ch chan struct{}, what string) error {
		select {
		case <-ch:
			return nil
		case <-time.After(10 * time.Second):
			return errors.New(what + " did not start within 10 s: the two sides do not overlap")
		}
	}
	var mu sync.Mutex
	var order []string
	record := func(name string, got scope) {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, name)
		if !slices.Equal(got.ops, sc.ops) || got.workers != sc.workers {
			t.Errorf("%s ran on %d operations with %d workers, want the scope's %d with %d", name, len(got.ops), got.workers, len(sc.ops), sc.workers)
		}
	}
	stateful := phase{name: PhaseStateful, run: func(ctx context.Context, s *session) error {
		close(statefulStarted)
		if err := wait(owedStarted, "the owed phases"); err != nil {
			return err
		}
		return errors.New("stateful failed")
	}}
	owed := []phase{
		{name: PhaseBoundaries, perOp: func(ctx context.Context, s *session, got scope) error {
			record(PhaseBoundaries, got)
			close(owedStarted)
			return wait(statefulStarted, "the stateful phase")
		}},
		{name: PhaseProperties, perOp: func(ctx context.Context, s *session, got scope) error {
			record(PhaseProperties, got)
			return errors.New("properties failed")
		}},
	}
	err := runBeside(t.Context(), s, stateful, owed, sc)
	for _, want := range []string{"phase stateful: stateful failed", "phase properties: properties failed"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("runBeside error = %v, want one containing %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "did not start") {
		t.Errorf("runBeside ran the two sides one after the other: %v", err)
	}
	if diff := cmp.Diff([]string{PhaseBoundaries, PhaseProperties}, order); diff != "" {
		t.Errorf("owed phases ran out of order (-want +got):\n%s", diff)
	}
}

// Package conformance drives any endpoint of Alibaba Cloud's RPC-style Elastic IP APIs with
// the spec and reports every contract violation: status and error Code against the oracle,
// response schemas, formats, the resource lifecycle and the protocol (signatures, nonces,
// timestamps).
//
// Typical usage, from an emulator author's own tests:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, conformance.Target{Handler: myEmulator})
//	}
//
// and from a program (the CLI does this):
//
//	rep, err := conformance.Check(ctx, conformance.Target{URL: "http://127.0.0.1:8080",
//		AccessKeyID: "testid", AccessKeySecret: "testsecret"}, conformance.Options{Seed: 1})
//
// The checker is black-box: it knows the endpoint only through HTTP and the world file
// (regions, instances, ENIs), which nothing in the API can discover.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eipconform/eipconform/spec"
	"github.com/eipconform/eipconform/world"
)

// Target is the endpoint under test.
type Target struct {
	// URL is the base URL every product is served on, e.g. http://127.0.0.1:8080.
	URL string
	// Endpoints overrides URL per product name (Vpc, VpcIpam, Ecs).
	Endpoints map[string]string
	// Handler, when set, is served in-process on a loopback test server instead of URL.
	Handler http.Handler
	// AccessKeyID and AccessKeySecret sign every request. The secret is never printed.
	AccessKeyID, AccessKeySecret string
	// NoAuth is for endpoints that do not authenticate: requests are sent unsigned and the
	// protocol phase's authentication checks are skipped.
	NoAuth bool
	// World is what the account owns; nil means world.Default(), the embedded emulator's.
	World *world.World
}

// Options tune a run. The zero value is the default run.
type Options struct {
	// Seed makes the run reproducible; 0 means 1.
	Seed int64
	// Cases is how many random cases each property tries; 0 means 100.
	Cases int
	// Only and Skip select operations, phases and checks by "OP", "PHASE", "CHECK",
	// "OP/PHASE" or "OP/PHASE/CHECK" (a part may be "*"). Only empty means everything.
	Only, Skip []string
	// Workers is how many operations are checked at once within a phase, and the stateful
	// phase's lanes at most; 0 means 4. With 1, no phase overlaps another either.
	Workers int
	// Timeout bounds each request; 0 means 10 s.
	Timeout time.Duration
	// RateLimit caps requests per second; 0 means no limit.
	RateLimit float64
	// Strict requires the spec's code where its mapping is only inferred.
	Strict bool
	// AllowMutations lets a run create and change resources on a non-loopback endpoint.
	AllowMutations bool
	// DryRun records the plan (every request) without sending anything.
	DryRun bool
	// Progress, when set, receives a progress line now and then.
	Progress func(done int, phase string)
	// MaxBody caps a response body; 0 means 4 MiB.
	MaxBody int64
}

// Phase names, in the order they run.
const (
	PhaseExamples   = "examples"
	PhaseBoundaries = "boundaries"
	PhaseProperties = "properties"
	PhaseStateful   = "stateful"
	PhaseProtocol   = "protocol"
)

// Phases lists the phases in order.
var Phases = []string{PhaseExamples, PhaseBoundaries, PhaseProperties, PhaseStateful, PhaseProtocol}

// ErrUnreachable wraps the error of a run that could not reach the endpoint at all.
var ErrUnreachable = errors.New("endpoint unreachable")

// Check runs every selected phase against target and returns the report. The error is for
// runs that could not happen (bad target or options, unreachable endpoint, refused
// mutations); violations are in the report.
func Check(ctx context.Context, target Target, opts Options) (*Report, error) {
	s, closeFn, err := newSession(target, opts)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	if err := s.preflight(ctx); err != nil {
		return nil, err
	}
	start := time.Now()
	beside := s.besideStateful()
	var owed []phase // per-operation phases that still owe the operations in beside
	for _, p := range phases {
		if !s.selected("", p.name, "") {
			s.rep.skip("", p.name, "not selected")
			continue
		}
		var err error
		switch {
		case p.perOp != nil && len(beside.ops) > 0 && p.before(PhaseStateful):
			err = p.runScope(ctx, s, scope{ops: without(s.spec.Operations, beside.ops), workers: s.opts.Workers})
			owed = append(owed, p)
		case p.name == PhaseStateful && len(owed) > 0:
			err = runBeside(ctx, s, p, owed, beside)
		default:
			err = p.runAll(ctx, s)
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return nil, fmt.Errorf("conformance: %w", err)
		}
	}
	s.cleanup()
	s.rep.Partial = ctx.Err() != nil
	s.rep.finish(time.Since(start), s.sent)
	return s.rep, nil
}

// Run checks target from a test: one subtest per operation, phase and check, each failing
// with its violations and the reproduce line. It uses the default options, with the seed
// taken from the environment variable EIPCONFORM_SEED when set.
func Run(t *testing.T, target Target) {
	t.Helper()
	opts := Options{}
	if v := strings.TrimSpace(getenv("EIPCONFORM_SEED")); v != "" {
		fmt.Sscan(v, &opts.Seed)
	}
	rep, err := Check(t.Context(), target, opts)
	if err != nil {
		t.Fatalf("conformance: %v", err)
	}
	rep.subtests(t)
}

// phase is one group of checks.
type phase struct {
	name string
	auth bool // needs an authenticating endpoint for some checks
	// run runs the phase; nil for the phases that check each operation on its own, which
	// set perOp instead: the phase for a scope's operations only.
	run   func(ctx context.Context, s *session) error
	perOp func(ctx context.Context, s *session, sc scope) error
}

// scope is what one call of a per-operation phase covers: its operations, and how many
// operations (and cases of one operation, where they share nothing) run at once.
type scope struct {
	ops     []*spec.Operation
	workers int
}

// runAll runs the whole phase; its error names the phase.
func (p phase) runAll(ctx context.Context, s *session) error {
	if p.perOp != nil {
		return p.runScope(ctx, s, scope{ops: s.spec.Operations, workers: s.opts.Workers})
	}
	if err := p.run(ctx, s); err != nil {
		return fmt.Errorf("phase %s: %w", p.name, err)
	}
	return nil
}

// runScope runs a per-operation phase for sc; its error names the phase.
func (p phase) runScope(ctx context.Context, s *session, sc scope) error {
	if err := p.perOp(ctx, s, sc); err != nil {
		return fmt.Errorf("phase %s: %w", p.name, err)
	}
	return nil
}

// before reports whether p runs before the named phase.
func (p phase) before(name string) bool {
	return slices.Index(Phases, p.name) < slices.Index(Phases, name)
}

// besideStateful is what the per-operation phases before the stateful phase leave to run
// while it runs, instead of before it: the operations that change no kind of resource the
// phase models (x-changes) and get no EIP of their own from those phases (needsEIP), so
// their cases leave the region's EIPs and instances as the phase assumes they stay; what
// they read is judged on its own, not against its model. The stateful phase's lanes wait
// for each other much of the time (see regionLock), and these cases use the idle cores.
// They run one at a time: more would compete with the lanes for the cores and hold up the
// lane each of the others waits for. The scope is empty when the stateful phase is not
// selected or Workers is 1 (one thing at a time).
func (s *session) besideStateful() scope {
	if s.opts.Workers == 1 || !s.selected("", PhaseStateful, "") {
		return scope{}
	}
	sc := scope{workers: 1}
	for _, op := range s.spec.Operations {
		if !op.ChangesAny(statefulModels...) && !needsEIP(op) {
			sc.ops = append(sc.ops, op)
		}
	}
	return sc
}

// without returns ops less the ones in drop, in order.
func without(ops, drop []*spec.Operation) []*spec.Operation {
	var out []*spec.Operation
	for _, op := range ops {
		if !slices.Contains(drop, op) {
			out = append(out, op)
		}
	}
	return out
}

// runBeside runs the stateful phase and, at the same time, the per-operation phases owed
// the scope sc, one after another in phase order.
func runBeside(ctx context.Context, s *session, stateful phase, owed []phase, sc scope) error {
	var owedErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		for _, p := range owed {
			if owedErr = p.runScope(ctx, s, sc); owedErr != nil {
				return
			}
		}
	})
	err := stateful.runAll(ctx, s)
	wg.Wait()
	return errors.Join(err, owedErr)
}

// phases is filled by the phase files' init functions, in Phases order.
var phases []phase

func register(p phase) {
	phases = append(phases, p)
	slices.SortFunc(phases, func(a, b phase) int { return slices.Index(Phases, a.name) - slices.Index(Phases, b.name) })
}

// endpointFor returns the base URL for a product.
func (t Target) endpointFor(product string) string {
	if u, ok := t.Endpoints[product]; ok && u != "" {
		return u
	}
	return t.URL
}

// serve starts the in-process handler on loopback, if any.
func (t *Target) serve() (closeFn func()) {
	if t.Handler == nil {
		return func() {}
	}
	ts := httptest.NewServer(t.Handler)
	t.URL = ts.URL
	return ts.Close
}

// loopback reports whether every endpoint of the target is on a loopback address.
func (t Target) loopback() bool {
	urls := []string{t.URL}
	for _, u := range t.Endpoints {
		urls = append(urls, u)
	}
	for _, raw := range urls {
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil {
			return false
		}
		host := u.Hostname()
		if host == "localhost" {
			continue
		}
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return false
		}
	}
	return true
}

// defaultRegion is the region the run works in: the first region of the world that has
// usable Running instances, else the first region.
func defaultRegion(w world.World) string {
	for _, r := range w.Regions {
		if len(w.InstancesIn(r.ID, world.StatusRunning)) > 0 {
			return r.ID
		}
	}
	return w.Regions[0].ID
}

// mutating reports whether op creates or changes resources.
func mutating(op *spec.Operation) bool { return op.Mutates }

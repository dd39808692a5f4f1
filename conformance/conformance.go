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
	// Workers is how many operations are checked at once within a phase; 0 means 4.
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
	for _, p := range phases {
		if !s.selected("", p.name, "") {
			s.rep.skip("", p.name, "not selected")
			continue
		}
		if err := p.run(ctx, s); err != nil {
			if ctx.Err() != nil {
				break
			}
			return nil, fmt.Errorf("conformance: phase %s: %w", p.name, err)
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
	run  func(ctx context.Context, s *session) error
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

package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
	"github.com/eipconform/eipconform/world"
)

var getenv = os.Getenv

// session is one run: the target, the options, the clients, the report and the janitor.
type session struct {
	spec    *spec.Spec
	target  Target
	opts    Options
	world   world.World
	region  string
	clients map[string]*rpc.Client // by product
	rep     *Report
	limiter *limiter

	routesMu sync.Mutex
	routes   map[*spec.Operation]*openapi3filter.RequestValidationInput // validationRoute's

	mu       sync.Mutex
	created  []created // resources to clean up, in creation order
	sent     int
	progress int
	failures int    // requests in a row that failed at the transport level
	down     string // why the run stopped sending, once the endpoint stopped answering
}

// maxTransportFailures is how many requests in a row may fail at the transport level
// (timeouts, resets, bodies over the cap) before the run stops sending: an endpoint that
// stopped answering would otherwise cost every remaining case its timeout.
const maxTransportFailures = 10

// created is a resource the run made.
type created struct {
	kind, id, region string
}

func newSession(target Target, opts Options) (*session, func(), error) {
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Cases <= 0 {
		opts.Cases = 100
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.RateLimit < 0 {
		return nil, nil, fmt.Errorf("conformance: rate limit %g; want 0 (none) or more", opts.RateLimit)
	}
	for _, sel := range append(slices.Clone(opts.Only), opts.Skip...) {
		if err := validSelector(sel); err != nil {
			return nil, nil, err
		}
	}
	closeFn := target.serve()
	if target.URL == "" && len(target.Endpoints) == 0 {
		closeFn()
		return nil, nil, errors.New("conformance: the target has no URL, Endpoints or Handler")
	}
	w := world.Default()
	if target.World != nil {
		w = *target.World
	}
	if err := w.Validate(); err != nil {
		closeFn()
		return nil, nil, fmt.Errorf("conformance: world: %w", err)
	}
	s := &session{
		spec: spec.Default(), target: target, opts: opts, world: w, region: defaultRegion(w),
		clients: map[string]*rpc.Client{}, limiter: newLimiter(opts.RateLimit),
	}
	s.rep = newReport(opts.Seed, target, opts)
	hc := &http.Client{Timeout: opts.Timeout, CheckRedirect: rpc.NoRedirects,
		Transport: &rpc.Transport{MaxIdlePerHost: opts.Workers * 2, Fallback: &http.Transport{MaxIdleConnsPerHost: opts.Workers * 2, DisableCompression: true}}}
	for _, p := range s.spec.Products {
		c := &rpc.Client{Endpoint: target.endpointFor(p.Name), HTTP: hc, MaxBody: opts.MaxBody}
		if !target.NoAuth {
			c.AccessKeyID, c.AccessKeySecret = target.AccessKeyID, target.AccessKeySecret
		}
		s.clients[p.Name] = c
	}
	if !target.NoAuth && (target.AccessKeyID == "" || target.AccessKeySecret == "") {
		closeFn()
		return nil, nil, errors.New("conformance: the target authenticates but has no AccessKeyID and AccessKeySecret (set NoAuth for endpoints that do not)")
	}
	// The transport keeps no goroutine that would notice a connection closing: the run's
	// idle connections are closed with the session.
	return s, func() { hc.CloseIdleConnections(); closeFn() }, nil
}

// preflight refuses unsafe runs and checks that the endpoint answers at all.
func (s *session) preflight(ctx context.Context) error {
	if !s.target.loopback() && !s.opts.AllowMutations && !s.opts.DryRun {
		s.rep.Notes = append(s.rep.Notes, "the endpoint is not on loopback: operations that create or change resources are skipped (AllowMutations allows them)")
	}
	if s.opts.DryRun {
		return nil
	}
	op := s.spec.Operation("DescribeEipAddresses")
	if op == nil {
		return nil
	}
	p := s.base(op)
	_, err := s.clients[op.Product].Do(ctx, p)
	if err != nil && !errors.Is(err, rpc.ErrTooLarge) { // a body over the cap is an answer, and a violation
		return fmt.Errorf("conformance: %w: %s: %v", ErrUnreachable, s.clients[op.Product].Endpoint, err)
	}
	return nil
}

// canMutate reports whether the run may send op.
func (s *session) canMutate(op *spec.Operation) bool {
	return !mutating(op) || s.target.loopback() || s.opts.AllowMutations
}

// base returns op's minimal valid request in the run's world: the spec's base request with
// the world's region and resources in place of the documents' example values.
func (s *session) base(op *spec.Operation) url.Values {
	p := op.BaseRequest()
	if p.Has("RegionId") || op.Parameter("RegionId") != nil && op.Parameter("RegionId").Required {
		p.Set("RegionId", s.region)
	}
	return p
}

// request is one request to send and judge.
type request struct {
	op     *spec.Operation
	phase  string
	check  string // the phase-specific check the request serves, "" for the response checks only
	name   string // the case name, for reports
	params url.Values
	method string // "" for the client's default (POST)
	// allowState accepts, where the oracle would accept the parameters, any error of the
	// operation's state rules: phases that do not control state (boundaries, properties)
	// cannot know whether an AllocationId still exists.
	allowState bool
	// counter, for properties and stateful cases: the seed and shrunk counterexample.
	counter string
	// silent judges without recording anything (no pass, no violation): properties search
	// and shrink quietly, then send their counterexample once more to record it.
	silent bool
	// statusCheck, when set, is the check the status judgement is recorded under instead of
	// CheckStatus (the protocol phase's named checks).
	statusCheck string
}

// send sends a request (unless the run is a dry run or the mutation is refused) and returns
// the response; nil with a nil error means "not sent".
func (s *session) send(ctx context.Context, r *request) (*rpc.Response, error) {
	if !s.canMutate(r.op) {
		s.rep.skip(r.op.Action, r.phase, "mutating operation on a non-loopback endpoint (AllowMutations not set)")
		return nil, nil
	}
	if s.opts.DryRun {
		s.rep.plan(r)
		return nil, nil
	}
	if down := s.stopped(); down != "" {
		s.rep.skip(r.op.Action, r.phase, down)
		return nil, nil
	}
	if err := s.limiter.wait(ctx); err != nil {
		return nil, err
	}
	c := *s.clients[r.op.Product]
	if r.method != "" {
		c.Method = r.method
	}
	// A request that creates or changes resources is not abandoned when the run is
	// cancelled once it is on its way: its answer tells the janitor what to clean up (an
	// allocation cut off mid-flight would leave an EIP nobody knows of). The request's own
	// timeout still bounds it.
	sendCtx := ctx
	if r.op.Mutates {
		sendCtx = context.WithoutCancel(ctx)
	}
	resp, err := c.Do(sendCtx, r.params)
	s.counted(r.phase)
	s.answered(err == nil || ctx.Err() != nil)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if r.silent {
			return nil, nil
		}
		s.rep.violation(Violation{
			Operation: r.op.Action, Phase: r.phase, Check: CheckTransport, Case: r.name,
			Message: "the request failed at the transport level", Got: err.Error(), Want: "an HTTP answer",
			Request: rpc.Redacted(r.params), Method: methodOf(r.method), Seed: s.opts.Seed,
		})
		return nil, nil
	}
	s.track(r.op, resp)
	return resp, nil
}

// answered keeps count of transport failures in a row; at maxTransportFailures the run stops
// sending (stopped says why, and the report's notes say it once).
func (s *session) answered(ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		s.failures = 0
		return
	}
	s.failures++
	if s.failures >= maxTransportFailures && s.down == "" {
		s.down = fmt.Sprintf("the endpoint stopped answering (%d requests in a row failed at the transport level); the run sent nothing more", s.failures)
		s.rep.mu.Lock()
		s.rep.Notes = append(s.rep.Notes, s.down)
		s.rep.mu.Unlock()
	}
}

// stopped says why the run stopped sending, or "".
func (s *session) stopped() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down
}

// counted counts a sent request and reports progress now and then.
func (s *session) counted(phase string) {
	s.mu.Lock()
	s.sent++
	n := s.sent
	s.mu.Unlock()
	if s.opts.Progress != nil && n%50 == 0 {
		s.opts.Progress(n, phase)
	}
}

// track records resources the run created, for the janitor, and forgets those it released.
func (s *session) track(op *spec.Operation, resp *rpc.Response) {
	if resp.Status != http.StatusOK {
		return
	}
	if op.Action == "ReleaseEipAddress" {
		if id := resp.Params.Get("AllocationId"); id != "" {
			s.forgetEIP(id)
		}
		return
	}
	if op.Action != "AllocateEipAddress" {
		return
	}
	var a struct{ AllocationId string }
	if json.Unmarshal(decodeJSON(resp, op), &a) != nil || a.AllocationId == "" {
		return
	}
	id := a.AllocationId
	region := resp.Params.Get("RegionId")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.created {
		if c.id == id {
			return // an idempotent repeat
		}
	}
	s.created = append(s.created, created{kind: "eip", id: id, region: region})
}

// cleanup is the janitor: every EIP the run created is unassociated if needed and released,
// Workers at a time. It runs on its own context, so it also cleans up after a cancelled run.
func (s *session) cleanup() {
	if s.opts.DryRun {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.mu.Lock()
	todo := slices.Clone(s.created)
	s.mu.Unlock()
	work := make(chan created)
	var wg sync.WaitGroup
	for range s.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				s.clean(ctx, c)
			}
		}()
	}
	for _, c := range todo {
		work <- c
	}
	close(work)
	wg.Wait()
}

// clean unassociates (if needed) and releases one EIP the run created; what it cannot do is
// a leftover.
func (s *session) clean(ctx context.Context, c created) {
	describe := s.spec.Operation("DescribeEipAddresses")
	unassoc := s.spec.Operation("UnassociateEipAddress")
	release := s.spec.Operation("ReleaseEipAddress")
	{
		p := s.base(describe)
		p.Set("RegionId", c.region)
		p.Set("AllocationId", c.id)
		resp, err := s.clients[describe.Product].Do(ctx, p)
		if err != nil || resp.Status != http.StatusOK {
			s.rep.leftover(c.id, "could not describe it", err, resp)
			return
		}
		var d struct {
			EipAddresses struct {
				EipAddress []struct{ Status, InstanceId, InstanceType, ChargeType string }
			}
		}
		b, err := resp.SuccessJSON(describe.SuccessSchema().Value)
		if err == nil {
			err = json.Unmarshal(b, &d)
		}
		if err != nil {
			s.rep.leftover(c.id, "could not read its description", err, resp)
			return
		}
		if len(d.EipAddresses.EipAddress) == 0 {
			return // already released
		}
		e := d.EipAddresses.EipAddress[0]
		if e.InstanceId != "" {
			p := s.base(unassoc)
			p.Set("RegionId", c.region)
			p.Set("AllocationId", c.id)
			p.Set("InstanceId", e.InstanceId)
			if e.InstanceType != "" {
				p.Set("InstanceType", e.InstanceType)
			}
			if resp, err := s.clients[unassoc.Product].Do(ctx, p); err != nil || resp.Status != http.StatusOK {
				s.rep.leftover(c.id, "could not unassociate it from "+e.InstanceId, err, resp)
				return
			}
		}
		p = s.base(release)
		p.Set("RegionId", c.region)
		p.Set("AllocationId", c.id)
		if resp, err := s.clients[release.Product].Do(ctx, p); err != nil || resp.Status != http.StatusOK {
			why := "could not release it"
			if strings.EqualFold(e.ChargeType, "PrePaid") {
				why = "a subscription (PrePaid) EIP cannot be released through the API"
			}
			s.rep.leftover(c.id, why, err, resp)
		}
	}
}

func methodOf(m string) string {
	if m == "" {
		return http.MethodPost
	}
	return strings.ToUpper(m)
}

// limiter spaces requests to a rate.
type limiter struct {
	mu    sync.Mutex
	every time.Duration
	next  time.Time
}

func newLimiter(perSecond float64) *limiter {
	if perSecond <= 0 {
		return &limiter{}
	}
	return &limiter{every: time.Duration(float64(time.Second) / perSecond)}
}

func (l *limiter) wait(ctx context.Context) error {
	if l.every == 0 {
		return nil
	}
	l.mu.Lock()
	now := time.Now()
	at := l.next
	if at.Before(now) {
		at = now
	}
	l.next = at.Add(l.every)
	l.mu.Unlock()
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// forEachOp runs fn for every operation of the scope the phase selects, sc.workers at a
// time. The report is sorted afterwards, so the order of work does not show.
func (s *session) forEachOp(ctx context.Context, phase string, sc scope, fn func(ctx context.Context, op *spec.Operation) error) error {
	sem := make(chan struct{}, sc.workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, op := range sc.ops {
		if !s.selected(op.Action, phase, "") {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(ctx, op); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

package conformance

import (
	"bytes"
	stdcmp "cmp"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/commands"
	"github.com/leanovate/gopter/gen"

	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
	"github.com/eipconform/eipconform/world"
)

func init() {
	register(phase{name: PhaseStateful, run: runStateful})
}

// Checks of the stateful phase: what a command sequence's post-conditions judge.
const (
	// CheckLifecycle: an operation on a live EIP succeeds or fails as the EIP's state requires
	// (Available → InUse → Available → released; eip-not-available, eip-not-in-use,
	// instance-has-eip, ...).
	CheckLifecycle = "lifecycle"
	// CheckUseAfterRelease: a released AllocationId names nothing: every operation on it
	// answers the spec's eip-not-found error and DescribeEipAddresses never lists it.
	CheckUseAfterRelease = "use-after-release"
	// CheckIdempotency: AllocateEipAddress repeated with a used ClientToken returns the first
	// AllocationId and creates nothing.
	CheckIdempotency = "idempotency"
	// CheckPagination: TotalCount is the count before the sequence plus the sequence's own EIPs,
	// and the pages are at most PageSize long, full but for the last, disjoint, and together
	// list TotalCount EIPs.
	CheckPagination = "pagination"
	// CheckReallocation: AllocateEipAddress by IpAddress gives back an address the sequence
	// released, refuses one a live EIP holds (ip-in-use) and one never released
	// (ip-not-recently-released).
	CheckReallocation = "reallocation"
	// CheckECS: AllocatePublicIpAddress gives an instance one public IP (then
	// instance-has-public-ip) and refuses the world's locked, expired, zero-bandwidth and
	// neither-Running-nor-Stopped instances with their documented errors.
	CheckECS = "ecs-public-ip"
	// CheckModel: DescribeEipAddresses shows every EIP of the sequence as the model holds it
	// (status, instance, address, name, bandwidth, charge types), filtered as asked.
	CheckModel = "model"
	// CheckMonitor: DescribeEipMonitorData on a live EIP returns spec.MonitorPoints points,
	// at most the max-points rule's limit.
	CheckMonitor = "monitor-series"
)

// StatefulChecks lists the checks of the stateful phase.
var StatefulChecks = []string{CheckLifecycle, CheckUseAfterRelease, CheckIdempotency, CheckPagination, CheckReallocation, CheckECS, CheckModel, CheckMonitor}

// EIP statuses the model uses; setup checks both are values of DescribeEipAddresses' Status.
const (
	eipAvailable = "Available"
	eipInUse     = "InUse"
)

// unfamiliarIP is an address no endpoint hands out (the network address of RFC 5737's
// TEST-NET-1), so no account released it in the last seven days.
const unfamiliarIP = "192.0.2.0"

// statefulModels are the kinds of resource (spec.Resources) the phase's model holds. The
// phase assumes nothing else changes them in the region while it runs; an operation that
// changes none of them (its x-changes) cannot disturb it.
var statefulModels = []string{spec.ResourceEIP, spec.ResourceInstance}

// Sizes of the phase.
const (
	statefulSteps     = 20  // commands per sequence at most
	statefulMaxLive   = 5   // live EIPs per sequence at most
	statefulMinLive   = 3   // ... and at least, when lanes share the quota
	statefulPageFetch = 4   // pages of a listing asked for at once
	statefulReserve   = 2   // EIPs of the region's quota the phase leaves free (for what a sequence creates outside its model)
	statefulShrinks   = 50  // accepted shrinks per property at most
	statefulShrinkRun = 120 // sequences run while shrinking one property at most
)

// runStateful is the stateful phase: model-based testing of the EIP lifecycle with gopter's
// commands package. Each property generates command sequences (allocate, with and without
// ClientToken, and by IpAddress; associate; unassociate; modify; describe by id, by status
// and page by page; release; monitor data; ECS public IPs) from a model of what the sequence
// created, runs them against the endpoint, and checks every answer against the model (the
// post-conditions, CheckLifecycle ... CheckMonitor) and with the response checks.
//
// A shared endpoint cannot give each sequence a fresh system, so a sequence works only on
// resources it creates and releases them when it ends. It does not assume the region is
// empty: describe results are filtered to the sequence's own AllocationIds before they are
// compared with the model, and TotalCount is checked as the baseline (the region's EIPs that
// are not the phase's, counted when the phase starts) + the model's EIPs + the phase's other
// sequences' EIPs the listing shows. This assumes nobody else creates or releases EIPs in the
// region while the phase runs. The properties run in lanes at once (see lanes and
// statefulShared). The instances the phase associates EIPs
// with are probed first (an instance that already holds an EIP or a public IP is left
// alone); one instance is given to AllocatePublicIpAddress, whose first call in a sequence may
// also answer instance-has-public-ip, since nothing in the API shows an instance's earlier
// ECS public IP. Subscription (PrePaid) EIPs are never bought.
//
// gopter searches and shrinks silently (the response checks' findings are kept, without
// duplicates); a failing property's shrunk sequence is then replayed once with recording on,
// and its first failing post-condition becomes the property's one violation, with the
// sequence as its counterexample. Options.Cases/5 sequences (20 by default) of up to 20
// commands run per property, deterministically for a seed.
func runStateful(ctx context.Context, s *session) error {
	t, why, err := newStatefulRun(ctx, s)
	if err != nil {
		return err
	}
	if why != "" {
		s.rep.skip("", PhaseStateful, why)
		t.flush()
		return nil
	}
	defer t.flush()
	lanes := t.lanes()
	errs := make([]error, len(lanes))
	var wg sync.WaitGroup
	for i, ln := range lanes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, p := range ln.props {
				if errs[i] = ln.check(p); errs[i] != nil || ln.sh.halted() {
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, ln := range lanes {
		s.rep.Notes = append(s.rep.Notes, ln.notes...)
	}
	// A property falsified in several shards is one violation: the first shard's.
	for _, p := range statefulProperties {
		for _, ln := range lanes {
			if v := ln.found[p.name]; v != nil {
				if s.selected(v.Operation, PhaseStateful, v.Check) {
					s.rep.violation(*v)
				}
				break
			}
		}
	}
	if dead, _ := t.sh.state(); dead != "" {
		s.rep.Notes = append(s.rep.Notes, "stateful: "+dead)
	}
	return errors.Join(errs...)
}

// lanes splits the phase into lanes that run at once, at most Options.Workers and as many as
// leave each lane statefulMinLive live EIPs. Every property's sequences are split into as
// many shards, each its own gopter run (own seed, own shrinking); lane i checks shard i of
// every property in turn, with its own share of the instances that accepted an EIP and of the
// region's quota, so that no lane's EIP can take an instance another lane's model counts on. What lanes do share, the region's listings, is kept consistent by the listing
// lock (see statefulShared).
func (t *statefulRun) lanes() []*statefulRun {
	n := min(t.s.opts.Workers, len(statefulProperties))
	if len(t.pool) > 0 {
		n = min(n, len(t.pool))
	}
	for n > 1 && t.room/n < statefulMinLive {
		n--
	}
	n = max(1, n)
	out := make([]*statefulRun, n)
	for i := range out {
		ln := *t
		ln.lane = i
		ln.cap = min(t.cap, max(1, t.room/n))
		ln.pool = nil
		for j := i; j < len(t.pool); j += n {
			ln.pool = append(ln.pool, t.pool[j])
		}
		for j := range statefulProperties {
			ln.props = append(ln.props, &statefulProperties[j])
		}
		ln.shard, ln.shards = i, n
		ln.sequences = t.sequences / n
		if i < t.sequences%n {
			ln.sequences++
		}
		ln.found = map[string]*Violation{}
		out[i] = &ln
	}
	return out
}

// seqKind is what a command does.
type seqKind int

const (
	seqAllocate       seqKind = iota // AllocateEipAddress, maybe with a fresh ClientToken
	seqRepeat                        // AllocateEipAddress again with a used ClientToken
	seqReallocate                    // AllocateEipAddress by IpAddress
	seqAssociate                     // AssociateEipAddress
	seqUnassociate                   // UnassociateEipAddress
	seqModify                        // ModifyEipAddressAttribute, then DescribeEipAddresses by id
	seqRelease                       // ReleaseEipAddress
	seqMonitor                       // DescribeEipMonitorData
	seqDescribeID                    // DescribeEipAddresses by AllocationId
	seqDescribeStatus                // DescribeEipAddresses by Status, every page
	seqDescribePages                 // DescribeEipAddresses page by page with a small PageSize
	seqECS                           // AllocatePublicIpAddress
	numKinds
)

// statefulProperty is one gopter property: a mix of commands aimed at some checks.
type statefulProperty struct {
	name    string
	weights [numKinds]int
	tokens  int // percent of allocations that send a fresh ClientToken
}

var statefulProperties = []statefulProperty{
	{name: "lifecycle", tokens: 10, weights: [numKinds]int{seqAllocate: 4, seqAssociate: 4, seqUnassociate: 3, seqModify: 2, seqRelease: 3, seqMonitor: 2, seqDescribeID: 2, seqDescribeStatus: 1}},
	{name: "idempotency", tokens: 70, weights: [numKinds]int{seqAllocate: 4, seqRepeat: 4, seqRelease: 2, seqAssociate: 1, seqDescribeID: 1, seqDescribePages: 1}},
	{name: "pagination", tokens: 10, weights: [numKinds]int{seqAllocate: 4, seqRelease: 2, seqAssociate: 2, seqUnassociate: 1, seqDescribePages: 3, seqDescribeStatus: 2}},
	{name: "reallocation", weights: [numKinds]int{seqAllocate: 3, seqRelease: 3, seqReallocate: 4, seqAssociate: 1, seqDescribeID: 1}},
	{name: "ecs", weights: [numKinds]int{seqECS: 4, seqAllocate: 2, seqAssociate: 3, seqUnassociate: 2, seqRelease: 1}},
}

// statefulRun is the phase's setup, shared by every property and sequence: the operations,
// the world as the phase uses it, and what it reads from the spec.
type statefulRun struct {
	s     *session
	ctx   context.Context
	quiet *session // judges search traffic into a scratch report, merged at the end

	alloc, assoc, unassoc, modify, describe, release, monitor, ecs *spec.Operation

	cap       int    // live EIPs per sequence at most
	quota     int    // the region's EIP quota: no listing is longer
	room      int    // live EIPs the region's quota leaves for the phase
	sequences int    // sequences per property
	nonce     string // makes ClientTokens unique to the run
	sh        *statefulShared

	pool      []string                    // instances that accepted an EIP when probed
	assocBad  []string                    // instances AssociateEipAddress must refuse
	assocErrs map[string][]spec.StateKind // ... and the errors it may give for each
	ecsOK     string                      // the instance AllocatePublicIpAddress may succeed on
	ecsBad    []string                    // instances AllocatePublicIpAddress must refuse
	ecsErrs   map[string][]spec.StateKind // ... and the errors it may give for each
	unknown   string                      // an InstanceId that names nothing

	chargeType       string // InstanceChargeType's default (PostPaid)
	internetDefault  string
	internetTypes    []string
	bandwidthDefault int64
	bandwidthMin     int64
	meteringMax      map[string]int64 // Bandwidth's upper bound per InternetChargeType
	pageMin, pageMax int
	periods          []int64
	maxPoints        int64
	timeLayout       string
	formats          []string

	// The lane: its number, properties and shard of them, sequences so far (ClientTokens are
	// unique to the lane and sequence), the violations it found by property, and the property
	// being checked.
	lane          int
	props         []*statefulProperty
	shard, shards int
	drivers       int
	found         map[string]*Violation
	notes         []string
	first, last   *seqDriver // first and last failing sequences
	shrinkRuns    int
}

// statefulShared is what the phase's lanes share: what the phase did to the region, and why
// it stopped.
//
// The region lock keeps the region's listings consistent while lanes run at once: commands
// that list the region (every page, by Status, the count after a repeated ClientToken) and
// re-allocations by IpAddress hold it exclusively, every other command holds it shared. So
// no EIP is created, released or changed while a lane lists the region, and no address is
// handed out while a lane asks for one back. A listing then holds the EIPs that are not the
// phase's (counted once, when the phase starts: the baseline), the sequence's own (which its
// model predicts) and those of the phase's other sequences (known by AllocationId, and
// counted as listed: another lane's model is not this lane's business).
type statefulShared struct {
	region regionLock

	mu       sync.Mutex
	ids      map[string]bool   // every AllocationId an allocation of the phase returned
	addrs    map[string]string // ... and the address it came with, where one did
	gone     map[string]bool   // AllocationIds the phase released (and saw no allocation bring back)
	ecsAddrs map[string]bool   // addresses AllocatePublicIpAddress gave the phase
	dead     string            // why the phase stopped sending (transport failure, no baseline)
	err      error             // the context's error, when cancelled

	// The baseline: EIPs in the region that are not the phase's, in all and per Status
	// (read-only once the lanes run).
	base struct {
		total  int
		status map[string]int
	}
}

// stop records why the phase stops sending; the first reason stays.
func (sh *statefulShared) stop(dead string, err error) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.dead == "" && sh.err == nil {
		sh.dead, sh.err = dead, err
	}
}

// state returns why the phase stopped, if it did.
func (sh *statefulShared) state() (dead string, err error) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.dead, sh.err
}

func (sh *statefulShared) halted() bool {
	dead, err := sh.state()
	return dead != "" || err != nil
}

// allocated notes the AllocationId and address an allocation returned.
func (sh *statefulShared) allocated(id, ip string) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.ids[id] = true
	delete(sh.gone, id)
	if ip != "" {
		sh.addrs[id] = ip
	}
}

// publicIP notes an address AllocatePublicIpAddress gave an instance.
func (sh *statefulShared) publicIP(ip string) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.ecsAddrs[ip] = true
}

// held reports whether a live EIP of the phase, or an instance's public IP, holds an address:
// asked with the region lock held, so no allocation or release is under way.
func (sh *statefulShared) held(ip string) bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for id, a := range sh.addrs {
		if a == ip && !sh.gone[id] {
			return true
		}
	}
	return sh.ecsAddrs[ip]
}

// newStatefulRun reads the spec, sizes the phase under the region's quota and probes the
// world's instances. A non-empty why means the phase is skipped.
func newStatefulRun(ctx context.Context, s *session) (*statefulRun, string, error) {
	t := &statefulRun{s: s, ctx: ctx, assocErrs: map[string][]spec.StateKind{}, ecsErrs: map[string][]spec.StateKind{}, meteringMax: map[string]int64{},
		sh: &statefulShared{ids: map[string]bool{}, addrs: map[string]string{}, gone: map[string]bool{}, ecsAddrs: map[string]bool{}}}
	t.quiet = &session{spec: s.spec, target: s.target, opts: s.opts, world: s.world, region: s.region, clients: s.clients, limiter: s.limiter, rep: newReport(s.opts.Seed, s.target, s.opts)}
	for _, x := range []struct {
		op     **spec.Operation
		action string
	}{
		{&t.alloc, "AllocateEipAddress"}, {&t.assoc, "AssociateEipAddress"}, {&t.unassoc, "UnassociateEipAddress"},
		{&t.modify, "ModifyEipAddressAttribute"}, {&t.describe, "DescribeEipAddresses"}, {&t.release, "ReleaseEipAddress"},
		{&t.monitor, "DescribeEipMonitorData"}, {&t.ecs, "AllocatePublicIpAddress"},
	} {
		if *x.op = s.spec.Operation(x.action); *x.op == nil {
			return t, "the spec has no operation " + x.action, nil
		}
	}
	for _, op := range []*spec.Operation{t.alloc, t.assoc, t.unassoc, t.modify, t.describe, t.release, t.monitor, t.ecs} {
		if !s.canMutate(op) {
			return t, "mutating operations on a non-loopback endpoint (AllowMutations not set)", nil
		}
	}
	if s.opts.DryRun {
		return t, "a dry run sends nothing, and the stateful phase needs the endpoint's answers", nil
	}
	if err := t.readSpec(); err != nil {
		return nil, "", err
	}
	t.sequences = max(1, s.opts.Cases/5)
	var b [8]byte
	crand.Read(b[:])
	t.nonce = hex.EncodeToString(b[:])

	region, ok := s.world.Region(s.region)
	if !ok {
		return t, "the world has no region " + s.region, nil
	}
	d := &seqDriver{t: t}
	total, ok := d.count(url.Values{})
	if _, err := t.sh.state(); err != nil {
		return nil, "", err
	}
	if !ok {
		return t, "DescribeEipAddresses did not answer with a TotalCount, which the phase counts from", nil
	}
	t.quota = region.EipQuota
	t.room = region.EipQuota - total - statefulReserve
	t.cap = min(statefulMaxLive, t.room)
	if t.cap < 1 {
		return t, fmt.Sprintf("region %s: its EIP quota (%d, %d in use) leaves no room for the phase's EIPs", s.region, region.EipQuota, total), nil
	}
	if why := t.probe(); why != "" {
		return t, why, nil
	}
	if _, err := t.sh.state(); err != nil {
		return nil, "", err
	}
	t.instances()
	if why := t.baseline(); why != "" {
		return t, why, nil
	}
	if _, err := t.sh.state(); err != nil {
		return nil, "", err
	}
	return t, "", nil
}

// baseline counts the region's EIPs that are not the phase's, in all and per Status: every
// page of each listing, less the phase's own (the probe's, if a released EIP lingers).
func (t *statefulRun) baseline() string {
	d := &seqDriver{t: t}
	t.sh.base.status = map[string]int{}
	for _, st := range []string{"", eipAvailable, eipInUse} {
		filter := url.Values{}
		if st != "" {
			filter.Set("Status", st)
		}
		obs := &seqObservation{}
		d.allPages(obs, filter, t.pageMax, "", t.quota, "baseline: count EIPs")
		if len(obs.pages) == 0 || slices.Contains(obs.decoded, false) {
			if dead, _ := t.sh.state(); dead != "" {
				return dead
			}
			return "DescribeEipAddresses did not answer with a TotalCount, which the phase counts from"
		}
		others, _ := d.phaseListed(obs)
		n := obs.pages[0].TotalCount - others
		if st == "" {
			t.sh.base.total = n
		} else {
			t.sh.base.status[st] = n
		}
	}
	return ""
}

// readSpec reads what the model needs from the contract: every state rule it expects, the
// defaults, ranges and enums of the parameters it sends.
func (t *statefulRun) readSpec() error {
	need := map[*spec.Operation][]spec.StateKind{
		t.assoc:    {spec.StateEipNotFound, spec.StateEipNotAvailable, spec.StateInstanceHasEip, spec.StateInstanceNotFound, spec.StateInstanceStatus, spec.StateInstanceNotVPC, spec.StateRegionMismatch},
		t.unassoc:  {spec.StateEipNotFound, spec.StateEipNotInUse, spec.StateEipNotBoundToInstance},
		t.modify:   {spec.StateEipNotFound, spec.StateBandwidthForMetering},
		t.release:  {spec.StateEipNotFound, spec.StateEipNotAvailable},
		t.monitor:  {spec.StateEipNotFound, spec.StateMonitorSeries},
		t.alloc:    {spec.StateIPInUse, spec.StateIPNotRecentlyReleased, spec.StateClientTokenIdempotent},
		t.describe: {spec.StatePagination},
		t.ecs:      {spec.StateInstanceHasPublicIP, spec.StateInstanceNotFound, spec.StateInstanceLocked, spec.StateInstanceExpired, spec.StateInstanceStatus, spec.StateInstanceZeroBandwidth},
	}
	for op, kinds := range need {
		for _, k := range kinds {
			if op.StateRule(k) == nil {
				return fmt.Errorf("stateful: the spec's %s has no state rule %s", op.Action, k)
			}
		}
	}
	param := func(op *spec.Operation, name string) (*spec.Parameter, error) {
		if p := op.Parameter(name); p != nil {
			return p, nil
		}
		return nil, fmt.Errorf("stateful: the spec's %s has no parameter %s", op.Action, name)
	}
	p, err := param(t.alloc, "InstanceChargeType")
	if err != nil {
		return err
	}
	t.chargeType = p.Default
	if buysSubscription(t.alloc, url.Values{}) {
		return fmt.Errorf("stateful: AllocateEipAddress's default InstanceChargeType %q buys a subscription", p.Default)
	}
	if p, err = param(t.alloc, "InternetChargeType"); err != nil {
		return err
	}
	t.internetDefault, t.internetTypes = p.Default, p.Enum
	if p, err = param(t.alloc, "Bandwidth"); err != nil {
		return err
	}
	t.bandwidthDefault, _ = spec.ParseInt(p.Default, 64)
	for _, l := range t.modify.StateRule(spec.StateBandwidthForMetering).Limits {
		t.meteringMax[l.Value] = l.Max
	}
	t.bandwidthMin = 1
	for _, r := range t.modify.Rules {
		if r.Check.Kind == spec.KindRange && r.Check.Param == "Bandwidth" && r.Check.Min != nil {
			t.bandwidthMin = *r.Check.Min
		}
	}
	if p, err = param(t.describe, "PageSize"); err != nil {
		return err
	}
	t.pageMin, t.pageMax = 1, 10
	if p.Minimum != nil {
		t.pageMin = int(*p.Minimum)
	}
	if p.Maximum != nil {
		t.pageMax = int(*p.Maximum)
	}
	if p, err = param(t.describe, "Status"); err != nil {
		return err
	}
	for _, st := range []string{eipAvailable, eipInUse} {
		if !slices.Contains(p.Enum, st) {
			return fmt.Errorf("stateful: DescribeEipAddresses' Status has no value %s (%v)", st, p.Enum)
		}
	}
	if p, err = param(t.monitor, "Period"); err != nil {
		return err
	}
	for _, v := range p.Enum {
		if n, ok := spec.ParseInt(v, 32); ok {
			t.periods = append(t.periods, n)
		}
	}
	if p, err = param(t.monitor, "StartTime"); err != nil {
		return err
	}
	t.timeLayout = p.TimeLayout
	for _, r := range t.monitor.Rules {
		if r.Check.Kind == spec.KindMaxPoints && r.Check.Max != nil {
			t.maxPoints = *r.Check.Max
		}
	}
	if len(t.periods) == 0 || t.timeLayout == "" || t.maxPoints < 1 {
		return fmt.Errorf("stateful: DescribeEipMonitorData's Period, StartTime or max-points rule is missing from the spec")
	}
	t.formats = slices.Clone(t.s.spec.Formats)
	return nil
}

// probe finds the instances that accept an EIP: it allocates one and associates it with each
// usable Running and Stopped instance in turn. An instance that already holds an EIP or a
// public IP (an earlier phase's, or anyone's) answers instance-has-eip and is left out.
func (t *statefulRun) probe() string {
	s := t.s
	var candidates []string
	for _, st := range []string{world.StatusRunning, world.StatusStopped} {
		for _, in := range s.world.InstancesIn(s.region, st) {
			candidates = append(candidates, in.ID)
		}
	}
	if len(candidates) == 0 {
		return ""
	}
	d := &seqDriver{t: t}
	x := d.call(t.alloc, t.base(t.alloc), "setup: allocate an EIP to probe instances with")
	if x == nil {
		dead, _ := t.sh.state()
		return dead
	}
	var a struct{ AllocationId, EipAddress string }
	if x.resp.Status != http.StatusOK || json.Unmarshal(decodeJSON(x.resp, t.alloc), &a) != nil || a.AllocationId == "" {
		return fmt.Sprintf("AllocateEipAddress failed during setup (%d %s)", x.resp.Status, seqErrCode(x))
	}
	id := a.AllocationId
	t.sh.allocated(id, a.EipAddress)
	var blocked []string
	hasEip := t.assoc.StateRule(spec.StateInstanceHasEip).Error
	for _, in := range candidates {
		p := t.base(t.assoc)
		p.Set("AllocationId", id)
		p.Set("InstanceId", in)
		x := d.call(t.assoc, p, "setup: probe "+in)
		if x == nil {
			dead, _ := t.sh.state()
			return dead
		}
		switch {
		case x.resp.Status == http.StatusOK:
			p := t.base(t.unassoc)
			p.Set("AllocationId", id)
			p.Set("InstanceId", in)
			if y := d.call(t.unassoc, p, "setup: unassociate from "+in); y == nil || y.resp.Status != http.StatusOK {
				return "could not unassociate the probe EIP " + id + " from " + in
			}
			t.pool = append(t.pool, in)
		case x.resp.Error != nil && x.resp.Status == hasEip.Status && x.resp.Error.Code == hasEip.Code:
			blocked = append(blocked, in)
		default:
			s.rep.Notes = append(s.rep.Notes, fmt.Sprintf("stateful: %s answered %d %s when probed; the phase does not use it", in, x.resp.Status, seqErrCode(x)))
		}
	}
	p := t.base(t.release)
	p.Set("AllocationId", id)
	if x := d.call(t.release, p, "setup: release the probe EIP"); x != nil && x.resp.Status == http.StatusOK {
		t.released(id)
	}
	// AllocatePublicIpAddress gets an instance that already cannot hold an EIP if there is one,
	// else one of the pool's, so that its public IP does not take an instance from the model.
	switch {
	case len(blocked) > 0:
		t.ecsOK = blocked[0]
	case len(t.pool) > 1:
		t.ecsOK = t.pool[len(t.pool)-1]
		t.pool = t.pool[:len(t.pool)-1]
	}
	return ""
}

// instances sorts the world's other instances into the ones AssociateEipAddress and
// AllocatePublicIpAddress must refuse, each with the state errors that may be answered.
func (t *statefulRun) instances() {
	s := t.s
	runnable := func(in world.Instance) bool {
		return in.Status == world.StatusRunning || in.Status == world.StatusStopped
	}
	for _, in := range s.world.Instances {
		var assoc, ecs []spec.StateKind
		if in.RegionID != s.region {
			assoc = append(assoc, spec.StateRegionMismatch)
		}
		if !in.VPC {
			assoc = append(assoc, spec.StateInstanceNotVPC)
		}
		if !runnable(in) {
			assoc = append(assoc, spec.StateInstanceStatus)
		}
		if len(assoc) > 0 {
			t.assocBad = append(t.assocBad, in.ID)
			t.assocErrs[in.ID] = assoc
		}
		if in.RegionID != s.region {
			continue
		}
		if in.LockReason == "security" {
			ecs = append(ecs, spec.StateInstanceLocked)
		}
		if in.Expired {
			ecs = append(ecs, spec.StateInstanceExpired)
		}
		if !runnable(in) {
			ecs = append(ecs, spec.StateInstanceStatus)
		}
		if in.InternetMaxBandwidthOut <= 0 {
			ecs = append(ecs, spec.StateInstanceZeroBandwidth)
		}
		if len(ecs) > 0 {
			t.ecsBad = append(t.ecsBad, in.ID)
			t.ecsErrs[in.ID] = ecs
		}
	}
	t.unknown = "i-eipconform-unknown"
	for n := 2; slices.ContainsFunc(s.world.Instances, func(in world.Instance) bool { return in.ID == t.unknown }); n++ {
		t.unknown = fmt.Sprintf("i-eipconform-unknown-%d", n)
	}
	t.assocErrs[t.unknown] = []spec.StateKind{spec.StateInstanceNotFound}
	t.ecsErrs[t.unknown] = []spec.StateKind{spec.StateInstanceNotFound}
}

// base is the operation's minimal request in the run's region.
func (t *statefulRun) base(op *spec.Operation) url.Values { return t.s.base(op) }

// check runs one property: gopter generates and shrinks silently, then the final shrunk
// failure is replayed once and recorded.
func (t *statefulRun) check(p *statefulProperty) error {
	if t.sequences == 0 {
		return nil // fewer sequences than shards
	}
	t.first, t.last, t.shrinkRuns = nil, nil, 0
	h := fnv.New64a()
	h.Write([]byte(p.name))
	if t.shard > 0 {
		fmt.Fprintf(h, "/%d", t.shard)
	}
	seed := t.s.opts.Seed ^ int64(h.Sum64()>>1)
	params := gopter.DefaultTestParametersWithSeed(seed)
	params.MinSuccessfulTests = t.sequences
	params.MinSize = min(5, statefulSteps)
	params.MaxSize = statefulSteps
	params.MaxShrinkCount = statefulShrinks
	cmds := &commands.ProtoCommands{
		NewSystemUnderTestFunc: func(initial commands.State) commands.SystemUnderTest {
			return t.newDriver(p, initial.(*seqModel), false)
		},
		DestroySystemUnderTestFunc: func(sut commands.SystemUnderTest) {
			d := sut.(*seqDriver)
			d.cleanup()
			if d.failAt > 0 {
				if t.first == nil {
					t.first = d
				}
				t.last = d
			}
		},
		InitialStateGen: gen.Const(&seqModel{}),
		GenCommandFunc:  func(st commands.State) gopter.Gen { return t.genStep(p, st.(*seqModel)) },
	}
	res := commands.Prop(cmds).Check(params)
	if _, err := t.sh.state(); err != nil {
		return err
	}
	switch res.Status {
	case gopter.TestFailed:
	case gopter.TestError:
		return fmt.Errorf("stateful: property %s: %v\n%s", p.name, res.Error, res.ErrorStack)
	case gopter.TestExhausted:
		t.notes = append(t.notes, fmt.Sprintf("stateful: property %s: gave up after %d sequences", p.name, res.Succeeded))
		return nil
	default:
		return nil
	}
	if t.last == nil {
		t.notes = append(t.notes, fmt.Sprintf("stateful: property %s failed without a failing post-condition: %v", p.name, res.Labels))
		return nil
	}
	// Replay the shrunk sequence once, recording.
	var report bytes.Buffer
	gopter.NewFormatedReporter(false, 160, &report).ReportTestResult(PhaseStateful+"/"+p.name, res)
	search := t.last
	shrinks := 0
	if len(res.Args) > 0 {
		shrinks = res.Args[0].Shrinks
	}
	name := p.name
	if t.shards > 1 {
		name = fmt.Sprintf("%s (shard %d of %d)", p.name, t.shard+1, t.shards)
	}
	header := fmt.Sprintf("property %s (gopter seed %d): %d steps, shrunk from %d in %d shrinks; replayed:", name, seed, len(search.steps), len(t.first.steps), shrinks)
	replay := t.newDriver(p, &seqModel{}, true)
	replay.counter = header + "\n" + search.listing()
	commands.Replay(replay, &seqModel{}, stepsAsCommands(search.steps)...)
	replay.cleanup()
	if _, err := t.sh.state(); err != nil {
		return err
	}
	d, note := replay, ""
	if d.failAt == 0 {
		d, note = search, " (seen while shrinking; the replay of the shrunk sequence did not fail again)"
	}
	pb := d.problem
	v := t.s.violationOf(pb.x.r, pb.x.resp, pb.check, pb.msg+note, pb.got, pb.want, pb.diff)
	v.Case = fmt.Sprintf("%s, step %d of %d: %s", p.name, d.failAt, len(d.steps), d.steps[d.failAt-1])
	v.Counterexample = header + "\n" + d.listing() + "\ngopter, on the search's own run (its AllocationIds differ from the replay's):\n" + indent(strings.TrimSpace(report.String()), "  ")
	t.found[p.name] = &v
	return nil
}

func stepsAsCommands(steps []*seqStep) []commands.Command {
	out := make([]commands.Command, len(steps))
	for i, c := range steps {
		out[i] = c
	}
	return out
}

// flush merges what the response checks found in the silent traffic into the report:
// passes are added up, violations recorded once each.
func (t *statefulRun) flush() {
	q, r := t.quiet.rep, t.s.rep
	q.mu.Lock()
	defer q.mu.Unlock()
	key := func(v Violation) [6]string {
		return [6]string{v.Operation, v.Check, v.Message, v.Got, v.Want, strconv.Itoa(v.Status)}
	}
	seen := map[[6]string]bool{}
	r.mu.Lock()
	for _, v := range r.Violations {
		if v.Phase == PhaseStateful {
			seen[key(v)] = true // recorded by a replay
		}
	}
	r.mu.Unlock()
	for _, v := range q.Violations {
		k := key(v)
		if seen[k] || !t.s.selected(v.Operation, v.Phase, v.Check) {
			continue
		}
		seen[k] = true
		v.Reproduce = ""
		r.violation(v)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, tq := range q.tallies {
		tr := r.tally(k[0], k[1])
		tr.Pass += tq.Pass
		tr.Ambiguous += tq.Ambiguous
	}
	for k, n := range q.results {
		r.results[k] += n
	}
	q.Violations, q.tallies, q.results = nil, map[[2]string]*Tally{}, map[[3]string]int{}
}

// released notes that the phase released an EIP: the janitor can forget it, and no listing
// may show it again (unless an allocation brings its AllocationId back).
func (t *statefulRun) released(id string) {
	t.sh.mu.Lock()
	t.sh.gone[id] = true
	t.sh.mu.Unlock()
	t.s.forgetEIP(id)
}

// forgetEIP takes a released EIP off the janitor's list.
func (s *session) forgetEIP(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.created = slices.DeleteFunc(s.created, func(c created) bool { return c.id == id })
}

// The model.

// seqModel is what a sequence has done, symbolically: EIPs and addresses are numbered in the
// order the sequence created them (eip#0, addr#0, ...), ClientTokens in the order it used
// them; the driver maps them to the endpoint's values. Models are never changed in place.
type seqModel struct {
	eips   []eipModel
	addrs  []int // the EIP holding each address, -1 once released
	tokens []tokenModel
	ecs    []string   // instances asked for a public IP in this sequence
	out    seqOutcome // what the last command must answer
}

type eipModel struct {
	status    string // eipAvailable, eipInUse, or "" once released
	instance  string
	name      string
	bandwidth int64
	internet  string
	addr      int
	shadowed  bool // released, and its address allocated again: its AllocationId may live again
}

type tokenModel struct {
	eip  int
	from seqStep // the allocation that used the token first
}

// seqOutcome is what a command must answer: success, one of the state errors, or either.
type seqOutcome struct {
	check   string
	success bool
	errs    []spec.StateKind
	created int // the EIP a success creates, -1 for none
}

func (m *seqModel) String() string {
	return fmt.Sprintf("%d EIPs (%d live)", len(m.eips), m.live())
}

func (m *seqModel) clone() *seqModel {
	return &seqModel{eips: slices.Clone(m.eips), addrs: slices.Clone(m.addrs), tokens: slices.Clone(m.tokens), ecs: slices.Clone(m.ecs)}
}

func (m *seqModel) live() int {
	n := 0
	for _, e := range m.eips {
		if e.status != "" {
			n++
		}
	}
	return n
}

func (m *seqModel) count(status string) int {
	n := 0
	for _, e := range m.eips {
		if e.status == status {
			n++
		}
	}
	return n
}

// holder returns the live EIP associated with an instance, or -1.
func (m *seqModel) holder(instance string) int {
	return slices.IndexFunc(m.eips, func(e eipModel) bool { return e.status == eipInUse && e.instance == instance })
}

func (m *seqModel) newEIP(e eipModel) int {
	e.status = eipAvailable
	if e.addr < 0 {
		e.addr = len(m.addrs)
		m.addrs = append(m.addrs, -1)
	}
	m.eips = append(m.eips, e)
	k := len(m.eips) - 1
	m.addrs[e.addr] = k
	return k
}

// The commands.

// seqStep is one command of a sequence. Which EIP, token or address it works on is symbolic; its
// expected answer is computed from the model when it runs (NextState), so a shrunk sequence
// expects what its own history implies.
type seqStep struct {
	t         *statefulRun
	kind      seqKind
	eip       int    // eip#
	addr      int    // addr# for seqReallocate; -1: an address never allocated
	token     int    // token# for seqRepeat
	fresh     bool   // seqAllocate sends a fresh ClientToken
	inst      string // InstanceId
	name      string // Name, "" not sent
	bandwidth int64  // Bandwidth, 0 not sent
	internet  string // InternetChargeType, "" not sent
	status    string // Status for seqDescribeStatus
	pageSize  int
	format    string // Format, "" the default
	period    int64
	points    int64
	late      int // seconds past the minute of StartTime and EndTime
}

func (c *seqStep) String() string {
	var args []string
	add := func(format string, a ...any) { args = append(args, fmt.Sprintf(format, a...)) }
	action := ""
	switch c.kind {
	case seqAllocate, seqRepeat, seqReallocate:
		action = "AllocateEipAddress"
		switch c.kind {
		case seqRepeat:
			add("ClientToken=token#%d again", c.token)
		case seqReallocate:
			if c.addr < 0 {
				add("IpAddress=%s (never allocated)", unfamiliarIP)
			} else {
				add("IpAddress=addr#%d", c.addr)
			}
		default:
			if c.name != "" {
				add("Name=%s", c.name)
			}
			if c.internet != "" {
				add("InternetChargeType=%s", c.internet)
			}
			if c.bandwidth != 0 {
				add("Bandwidth=%d", c.bandwidth)
			}
			if c.fresh {
				add("ClientToken=new")
			}
		}
	case seqAssociate:
		action = "AssociateEipAddress"
		add("eip#%d", c.eip)
		add("InstanceId=%s", c.inst)
	case seqUnassociate:
		action = "UnassociateEipAddress"
		add("eip#%d", c.eip)
		add("InstanceId=%s", c.inst)
	case seqModify:
		action = "ModifyEipAddressAttribute"
		add("eip#%d", c.eip)
		if c.name != "" {
			add("Name=%s", c.name)
		}
		if c.bandwidth != 0 {
			add("Bandwidth=%d", c.bandwidth)
		}
	case seqRelease:
		action = "ReleaseEipAddress"
		add("eip#%d", c.eip)
	case seqMonitor:
		action = "DescribeEipMonitorData"
		add("eip#%d", c.eip)
		add("%d points of Period=%d", c.points, c.period)
		if c.late > 0 {
			add("times at :%02d past the minute", c.late)
		}
	case seqDescribeID:
		action = "DescribeEipAddresses"
		add("AllocationId=eip#%d", c.eip)
	case seqDescribeStatus:
		action = "DescribeEipAddresses"
		add("Status=%s, every page", c.status)
	case seqDescribePages:
		action = "DescribeEipAddresses"
		add("PageSize=%d, every page", c.pageSize)
	case seqECS:
		action = "AllocatePublicIpAddress"
		add("InstanceId=%s", c.inst)
	}
	if c.format != "" {
		add("Format=%s", c.format)
	}
	return action + "(" + strings.Join(args, ", ") + ")"
}

// PreCondition keeps generated and shrunk sequences meaningful: an EIP, token or address a
// command names exists, and allocations stay under the sequence's cap.
func (c *seqStep) PreCondition(st commands.State) bool {
	m := st.(*seqModel)
	switch c.kind {
	case seqAllocate:
		return m.live() < c.t.cap
	case seqRepeat:
		return c.token < len(m.tokens)
	case seqReallocate:
		return c.addr < len(m.addrs) && (c.addr < 0 || m.addrs[c.addr] >= 0 || m.live() < c.t.cap)
	case seqAssociate, seqUnassociate, seqModify, seqRelease, seqMonitor, seqDescribeID:
		return c.eip < len(m.eips) && !m.eips[c.eip].shadowed
	}
	return true
}

// NextState is the model's transition, and the outcome the command must answer.
func (c *seqStep) NextState(st commands.State) commands.State {
	t := c.t
	m := st.(*seqModel).clone()
	out := seqOutcome{created: -1}
	fail := func(kinds ...spec.StateKind) { out.errs = append(out.errs, kinds...) }
	var e *eipModel
	switch c.kind {
	case seqAssociate, seqUnassociate, seqModify, seqRelease, seqMonitor, seqDescribeID:
		if c.eip < 0 || c.eip >= len(m.eips) {
			m.out = seqOutcome{check: CheckModel, success: true, created: -1} // PreCondition rules this out
			return m
		}
		e = &m.eips[c.eip]
		out.check = CheckLifecycle
		if e.status == "" && c.kind != seqDescribeID {
			out.check = CheckUseAfterRelease
			fail(spec.StateEipNotFound)
		}
	}
	switch c.kind {
	case seqAllocate:
		out.check = CheckLifecycle
		k := m.newEIP(eipModel{name: c.name, bandwidth: stdcmp.Or(c.bandwidth, t.bandwidthDefault), internet: stdcmp.Or(c.internet, t.internetDefault), addr: -1})
		if c.fresh {
			m.tokens = append(m.tokens, tokenModel{eip: k, from: *c})
		}
		out.created = k
	case seqRepeat:
		out.check = CheckIdempotency
	case seqReallocate:
		out.check = CheckReallocation
		switch {
		case c.addr < 0:
			fail(spec.StateIPNotRecentlyReleased)
		case m.addrs[c.addr] >= 0:
			fail(spec.StateIPInUse)
		default:
			for i := range m.eips {
				if m.eips[i].addr == c.addr {
					m.eips[i].shadowed = true
				}
			}
			out.created = m.newEIP(eipModel{bandwidth: t.bandwidthDefault, internet: t.internetDefault, addr: c.addr})
		}
	case seqAssociate:
		if e.status == eipInUse {
			fail(spec.StateEipNotAvailable)
		}
		fail(t.assocErrs[c.inst]...)
		if m.holder(c.inst) >= 0 {
			fail(spec.StateInstanceHasEip)
		}
		if len(out.errs) == 0 {
			e.status, e.instance = eipInUse, c.inst
		}
	case seqUnassociate:
		switch {
		case e.status == eipAvailable:
			fail(spec.StateEipNotInUse, spec.StateEipNotBoundToInstance)
		case e.status == eipInUse && e.instance != c.inst:
			fail(spec.StateEipNotBoundToInstance)
		case e.status == eipInUse:
			e.status, e.instance = eipAvailable, ""
		}
	case seqModify:
		if e.status != "" {
			e.name = stdcmp.Or(c.name, e.name)
			e.bandwidth = stdcmp.Or(c.bandwidth, e.bandwidth)
		}
	case seqRelease:
		switch e.status {
		case eipInUse:
			fail(spec.StateEipNotAvailable)
		case eipAvailable:
			e.status, e.instance = "", ""
			m.addrs[e.addr] = -1
		}
	case seqMonitor:
		if e.status != "" {
			out.check = CheckMonitor
		}
	case seqDescribeID, seqDescribeStatus:
		out.check = CheckModel
	case seqDescribePages:
		out.check = CheckPagination
	case seqECS:
		out.check = CheckECS
		switch {
		case c.inst != t.ecsOK:
			fail(t.ecsErrs[c.inst]...)
		case slices.Contains(m.ecs, c.inst):
			fail(spec.StateInstanceHasPublicIP)
		default:
			// Nothing shows whether the instance got a public IP before the sequence.
			out.success = true
			fail(spec.StateInstanceHasPublicIP)
			m.ecs = append(m.ecs, c.inst)
		}
	}
	if len(out.errs) == 0 {
		out.success = true
	}
	m.out = out
	return m
}

// Run executes the command on the driver, which follows the model itself (NextState is pure)
// to know which real resources the symbols name.
func (c *seqStep) Run(sut commands.SystemUnderTest) commands.Result {
	d := sut.(*seqDriver)
	prev := d.state
	next := c.NextState(prev).(*seqModel)
	d.state = next
	d.steps = append(d.steps, c)
	d.lines = append(d.lines, c.String()+createdNote(next))
	obs := &seqObservation{d: d, step: len(d.steps)}
	for len(d.ids) < len(next.eips) {
		d.ids = append(d.ids, "")
	}
	for len(d.ips) < len(next.addrs) {
		d.ips = append(d.ips, "")
	}
	if c.eip >= 0 && d.ids[c.eip] == "" {
		d.off = true // the EIP was never created: the sequence has already failed
	}
	if d.off {
		// d.sent stays the last state the endpoint was sent to, which cleanup goes by: the
		// model of commands never sent would have it skip a live EIP as released.
		obs.skipped = true
		return obs
	}
	d.sent = next
	c.run(d, prev, next, obs)
	if d.off {
		obs.skipped = true
	}
	return obs
}

func createdNote(m *seqModel) string {
	if m.out.created >= 0 {
		return fmt.Sprintf(" → eip#%d", m.out.created)
	}
	return ""
}

// seqObservation is what a command saw: its exchanges and what they decoded to.
type seqObservation struct {
	d       *seqDriver
	step    int
	skipped bool
	calls   []*seqExchange
	pages   []describePage // seqDescribe*, seqModify's follow-up, seqRepeat's count
	decoded []bool         // pages[i] decoded
	id, ip  string         // AllocateEipAddress's AllocationId and EipAddress; the ECS address
	points  int            // DescribeEipMonitorData's points
	want    int64          // ... and how many the spec requires
	// For listings, read with the region lock held: how many listed EIPs are the phase's
	// other sequences', and which listed ones the phase had released.
	others int
	gone   map[string]bool
}

type seqExchange struct {
	r    *request
	resp *rpc.Response
}

func (c *seqStep) run(d *seqDriver, prev, next *seqModel, obs *seqObservation) {
	t := d.t
	mode := c.regionMode()
	t.sh.region.lock(mode)
	d.deferJudge = true
	defer func() {
		t.sh.region.unlock(mode)
		d.deferJudge = false
		d.judgeLater()
	}()
	if mode == listing || c.kind == seqRepeat {
		defer func() { obs.others, obs.gone = d.phaseListed(obs) }() // before the unlock
	}
	do := func(op *spec.Operation, p url.Values) *seqExchange {
		x := d.call(op, p, c.String())
		if x != nil {
			obs.calls = append(obs.calls, x)
		}
		return x
	}
	withEIP := func(op *spec.Operation) url.Values {
		p := t.base(op)
		p.Set("AllocationId", d.ids[c.eip])
		return p
	}
	switch c.kind {
	case seqAllocate, seqRepeat, seqReallocate:
		p := t.base(t.alloc)
		from := c
		if c.kind == seqRepeat {
			from = &prev.tokens[c.token].from
		}
		if from.name != "" {
			p.Set("Name", from.name)
		}
		if from.internet != "" {
			p.Set("InternetChargeType", from.internet)
		}
		if from.bandwidth != 0 {
			p.Set("Bandwidth", strconv.FormatInt(from.bandwidth, 10))
		}
		switch {
		case c.kind == seqRepeat:
			p.Set("ClientToken", d.tokens[c.token])
		case c.fresh:
			d.tokens = append(d.tokens, fmt.Sprintf("eipconform-%s-%d-%d-%d", t.nonce, t.lane, d.serial, len(d.tokens)))
			p.Set("ClientToken", d.tokens[len(d.tokens)-1])
		}
		if c.kind == seqReallocate {
			ip := unfamiliarIP
			if c.addr >= 0 {
				ip = d.ips[c.addr]
				if prev.addrs[c.addr] < 0 && t.sh.held(ip) {
					d.off = true // an allocation got this address back: nothing to predict
					return
				}
			}
			p.Set("IpAddress", ip)
		}
		if buysSubscription(t.alloc, p) {
			panic("stateful: an allocation would buy a subscription EIP") // readSpec rules this out
		}
		x := do(t.alloc, p)
		if x == nil {
			return
		}
		var a struct{ AllocationId, EipAddress string }
		if x.resp.Status == http.StatusOK && json.Unmarshal(decodeJSON(x.resp, t.alloc), &a) == nil {
			obs.id, obs.ip = a.AllocationId, a.EipAddress
		}
		switch k := next.out.created; {
		case k >= 0 && obs.id != "":
			d.ids[k] = obs.id
			if obs.ip == "" { // EipAddress is optional: ask DescribeEipAddresses
				q := t.base(t.describe)
				q.Set("AllocationId", obs.id)
				if d.pageInto(obs, q, c.String()+": describe") {
					for _, it := range obs.pages[len(obs.pages)-1].EipAddresses.EipAddress {
						if it.AllocationId == obs.id {
							obs.ip = it.IpAddress
						}
					}
				}
			}
			if d.ips[next.eips[k].addr] == "" {
				d.ips[next.eips[k].addr] = obs.ip
			}
		case obs.id != "" && !slices.Contains(d.ids, obs.id):
			d.extra = append(d.extra, obs.id) // created outside the model
		}
		if obs.id != "" {
			t.sh.allocated(obs.id, obs.ip)
		}
		if c.kind == seqRepeat && x.resp.Status == http.StatusOK {
			// The count: a listing, with the other listings (what changed in between is
			// counted as listed).
			t.sh.region.unlock(mode)
			mode = listing
			t.sh.region.lock(mode)
			d.allPages(obs, url.Values{}, t.pageMax, "", t.quota, c.String()+": count")
		}
	case seqAssociate, seqUnassociate:
		op := t.assoc
		if c.kind == seqUnassociate {
			op = t.unassoc
		}
		p := withEIP(op)
		p.Set("InstanceId", c.inst)
		do(op, p)
	case seqModify:
		p := withEIP(t.modify)
		if c.name != "" {
			p.Set("Name", c.name)
		}
		if c.bandwidth != 0 {
			p.Set("Bandwidth", strconv.FormatInt(c.bandwidth, 10))
		}
		if x := do(t.modify, p); x != nil && x.resp.Status == http.StatusOK {
			q := withEIP(t.describe)
			d.pageInto(obs, q, c.String()+": describe")
		}
	case seqRelease:
		if x := do(t.release, withEIP(t.release)); x != nil && x.resp.Status == http.StatusOK {
			t.released(d.ids[c.eip])
		}
	case seqMonitor:
		p := withEIP(t.monitor)
		period := time.Duration(c.period) * time.Second
		start := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour - time.Duration(c.points)*period).Add(time.Duration(c.late) * time.Second)
		end := start.Add(time.Duration(c.points) * period)
		p.Set("StartTime", start.Format(t.timeLayout))
		p.Set("EndTime", end.Format(t.timeLayout))
		p.Set("Period", strconv.FormatInt(c.period, 10))
		obs.want = min(spec.MonitorPoints(start, end, c.period), t.maxPoints)
		if x := do(t.monitor, p); x != nil && x.resp.Status == http.StatusOK {
			var b struct {
				EipMonitorDatas struct{ EipMonitorData []json.RawMessage }
			}
			obs.points = -1
			if json.Unmarshal(decodeJSON(x.resp, t.monitor), &b) == nil {
				obs.points = len(b.EipMonitorDatas.EipMonitorData)
			}
		}
	case seqDescribeID:
		p := withEIP(t.describe)
		if c.format != "" {
			p.Set("Format", c.format)
		}
		d.pageInto(obs, p, c.String())
	case seqDescribeStatus:
		q := url.Values{"Status": {c.status}}
		d.allPages(obs, q, t.pageMax, c.format, t.quota, c.String())
	case seqDescribePages:
		d.allPages(obs, url.Values{}, c.pageSize, c.format, t.quota, c.String())
	case seqECS:
		p := t.base(t.ecs)
		p.Set("InstanceId", c.inst)
		if x := do(t.ecs, p); x != nil && x.resp.Status == http.StatusOK {
			var b struct{ IpAddress string }
			json.Unmarshal(decodeJSON(x.resp, t.ecs), &b)
			obs.ip = b.IpAddress
			d.ecsIPs = append(d.ecsIPs, b.IpAddress)
			t.sh.publicIP(b.IpAddress)
		}
	}
}

// PostCondition judges the command's answers against the model.
func (c *seqStep) PostCondition(st commands.State, res commands.Result) *gopter.PropResult {
	obs := res.(*seqObservation)
	if obs.skipped || len(obs.calls) == 0 {
		return &gopter.PropResult{Status: gopter.PropTrue}
	}
	m := st.(*seqModel)
	pb := c.verify(m, obs)
	if pb == nil {
		x := obs.calls[0]
		if obs.d.t.s.selected(x.r.op.Action, PhaseStateful, m.out.check) {
			obs.d.t.s.rep.count(x.r.op.Action, PhaseStateful, m.out.check, resultPass)
		}
		return &gopter.PropResult{Status: gopter.PropTrue}
	}
	d := obs.d
	if d.failAt == 0 {
		d.failAt, d.problem = obs.step, pb
		d.lines[obs.step-1] += "   ← fails: " + pb.msg
	}
	return gopter.NewPropResult(false, fmt.Sprintf("step %d, %s: %s: %s: got %s, want %s", obs.step, c, pb.check, pb.msg, pb.got, pb.want))
}

// seqProblem is a failed post-condition.
type seqProblem struct {
	check, msg, got, want, diff string
	x                           *seqExchange
}

// verify returns the first thing the command's answers get wrong, or nil.
func (c *seqStep) verify(m *seqModel, obs *seqObservation) *seqProblem {
	t, d := c.t, obs.d
	first := obs.calls[0]
	if pb := t.answer(m.out, first); pb != nil {
		return pb
	}
	for _, x := range obs.calls[1:] { // follow-up requests must all succeed
		if x.resp.Status != http.StatusOK {
			return &seqProblem{check: m.out.check, msg: "a follow-up request failed", got: seqAnswer(x), want: "success", x: x}
		}
	}
	if first.resp.Status != http.StatusOK {
		return nil // an expected error
	}
	pb := func(check, msg, got, want string) *seqProblem {
		return &seqProblem{check: check, msg: msg, got: got, want: want, x: first}
	}
	switch c.kind {
	case seqAllocate, seqReallocate:
		k := m.out.created
		if obs.id == "" {
			return pb(m.out.check, "the allocation returned no AllocationId", "none", "an AllocationId")
		}
		if k < 0 {
			return nil
		}
		for i, e := range m.eips {
			if i != k && e.status != "" && d.ids[i] == obs.id {
				return pb(CheckModel, "the allocation returned the AllocationId of another live EIP", fmt.Sprintf("%s (eip#%d's)", obs.id, i), "a new AllocationId")
			}
		}
		if c.kind == seqReallocate && obs.ip != d.ips[c.addr] {
			return pb(CheckReallocation, "re-allocating a released address did not give it back", orNone(obs.ip), d.ips[c.addr])
		}
		if obs.ip == "" {
			return pb(CheckModel, "neither the allocation's EipAddress nor DescribeEipAddresses gave the new EIP's address", "none", "an address")
		}
		for i, e := range m.eips {
			if i != k && e.status != "" && d.ips[e.addr] == obs.ip {
				return pb(CheckModel, "the allocation returned the address of another live EIP", fmt.Sprintf("%s (eip#%d's)", obs.ip, i), "a free address")
			}
		}
		if slices.Contains(d.ecsIPs, obs.ip) {
			return pb(CheckModel, "the allocation returned an address an ECS instance holds", obs.ip, "a free address")
		}
	case seqRepeat:
		tok := m.tokens[c.token]
		if want := d.ids[tok.eip]; obs.id != want {
			return pb(CheckIdempotency, "a repeated ClientToken did not return the first allocation's AllocationId", orNone(obs.id), fmt.Sprintf("%s (eip#%d)", want, tok.eip))
		}
		if len(obs.pages) > 0 && !slices.Contains(obs.decoded, false) {
			base, others := d.t.sh.base.total, obs.others
			if got, want := obs.pages[0].TotalCount, base+m.live()+others; got != want {
				return &seqProblem{check: CheckIdempotency, msg: "after a repeated ClientToken, TotalCount is not the region's other EIPs plus the sequence's: the repeat created an EIP",
					got: strconv.Itoa(got), want: countWant(want, base, m.live(), others), x: obs.calls[1]}
			}
		}
	case seqModify:
		if len(obs.pages) == 1 {
			return c.compareOne(m, obs, obs.calls[1], obs.pages[0], obs.decoded[0])
		}
	case seqMonitor:
		if int64(obs.points) != obs.want {
			return pb(CheckMonitor, "the number of data points is not what StartTime, EndTime and Period give (spec.MonitorPoints, at most the max-points limit)", strconv.Itoa(obs.points), strconv.FormatInt(obs.want, 10))
		}
	case seqDescribeID:
		return c.compareOne(m, obs, first, obs.pages[0], obs.decoded[0])
	case seqDescribeStatus, seqDescribePages:
		return c.verifyPages(m, obs)
	case seqECS:
		if obs.ip == "" {
			return pb(CheckECS, "AllocatePublicIpAddress returned no IpAddress", "none", "an address")
		}
		for i, e := range m.eips {
			if e.status != "" && d.ips[e.addr] == obs.ip {
				return pb(CheckECS, "AllocatePublicIpAddress returned the address of a live EIP", fmt.Sprintf("%s (eip#%d's)", obs.ip, i), "a free address")
			}
		}
	}
	return nil
}

// answer checks an answer's status and code against the expected outcome.
func (t *statefulRun) answer(out seqOutcome, x *seqExchange) *seqProblem {
	ok := x.resp.Status >= 200 && x.resp.Status < 300
	if ok && out.success {
		return nil
	}
	var refs []string
	for _, k := range out.errs {
		r := x.r.op.StateRule(k)
		if r == nil || r.Error == nil {
			continue
		}
		if !ok && x.resp.Error != nil && x.resp.Status == r.Error.Status && x.resp.Error.Code == r.Error.Code {
			return nil
		}
		ref := fmt.Sprintf("%s (%s)", r.Error, k)
		if !slices.Contains(refs, ref) {
			refs = append(refs, ref)
		}
	}
	want := strings.Join(refs, " or ")
	if out.success {
		want = strings.Join(append([]string{"success"}, refs...), " or ")
	}
	msg := "the answer is not what the EIP's state requires"
	switch {
	case ok:
		msg = "the request succeeded where the model's state requires an error"
	case out.check == CheckUseAfterRelease:
		msg = "an operation on a released AllocationId did not answer that it is not found"
	case len(refs) == 0:
		msg = "the request failed where the model's state requires success"
	}
	return &seqProblem{check: out.check, msg: msg, got: seqAnswer(x), want: want, x: x}
}

func seqAnswer(x *seqExchange) string {
	if x.resp.Status >= 200 && x.resp.Status < 300 {
		return fmt.Sprintf("%d (success)", x.resp.Status)
	}
	return fmt.Sprintf("%d %s", x.resp.Status, seqErrCode(x))
}

func seqErrCode(x *seqExchange) string {
	if x.resp.Error != nil {
		return orNone(x.resp.Error.Code)
	}
	return orNone("")
}

// The endpoint's view.

// eipView is one DescribeEipAddresses item, the fields the model predicts and two the server
// makes up (ignored when compared).
type eipView struct {
	AllocationId       string
	IpAddress          string
	Status             string
	InstanceId         string
	Bandwidth          flexString
	Name               string
	ChargeType         string
	InternetChargeType string
	RegionId           string
	AllocationTime     string // server-generated
	ResourceGroupId    string // server-generated
}

// flexString reads a JSON string or number as text.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = flexString(n.String())
	return nil
}

type describePage struct {
	TotalCount   int
	PageNumber   int
	PageSize     int
	EipAddresses struct{ EipAddress []eipView }
}

var statefulViewOptions = cmp.Options{
	cmpopts.IgnoreFields(eipView{}, "AllocationTime", "ResourceGroupId"),
	cmpopts.SortSlices(func(a, b eipView) bool { return a.AllocationId < b.AllocationId }),
	cmpopts.EquateEmpty(),
}

// view is what DescribeEipAddresses must show for eip#k.
func (d *seqDriver) view(m *seqModel, k int) eipView {
	e := m.eips[k]
	return eipView{
		AllocationId: d.ids[k], IpAddress: d.ips[e.addr], Status: e.status, InstanceId: e.instance,
		Bandwidth: flexString(strconv.FormatInt(e.bandwidth, 10)), Name: e.name, ChargeType: d.t.chargeType,
		InternetChargeType: e.internet, RegionId: d.t.s.region,
	}
}

// symbol returns the EIP of the sequence an AllocationId names (the latest, for an id that
// re-allocation brought back), or -1.
func (d *seqDriver) symbol(id string) int {
	for k := len(d.ids) - 1; k >= 0; k-- {
		if d.ids[k] == id && id != "" {
			return k
		}
	}
	return -1
}

// compareOne checks a DescribeEipAddresses answer by AllocationId against eip#c.eip.
func (c *seqStep) compareOne(m *seqModel, obs *seqObservation, x *seqExchange, pg describePage, decoded bool) *seqProblem {
	d := obs.d
	if !decoded {
		return &seqProblem{check: CheckModel, msg: "the DescribeEipAddresses body does not decode into its items", got: excerpt(x.resp.Body), want: "TotalCount and EipAddresses.EipAddress", x: x}
	}
	id := d.ids[c.eip]
	var got []eipView
	for _, it := range pg.EipAddresses.EipAddress {
		if it.AllocationId != id {
			return &seqProblem{check: CheckModel, msg: "an AllocationId filter listed another EIP", got: it.AllocationId, want: "only " + id, x: x}
		}
		got = append(got, it)
	}
	var want []eipView
	if m.eips[c.eip].status == "" {
		if len(got) > 0 {
			return &seqProblem{check: CheckUseAfterRelease, msg: "DescribeEipAddresses still lists a released EIP", got: fmt.Sprintf("%d items for %s (eip#%d)", len(got), id, c.eip), want: "none",
				diff: cmp.Diff(want, got, statefulViewOptions), x: x}
		}
	} else {
		want = []eipView{d.view(m, c.eip)}
	}
	if diff := cmp.Diff(want, got, statefulViewOptions); diff != "" {
		return &seqProblem{check: CheckModel, msg: "DescribeEipAddresses does not show the EIP as the model holds it", got: fmt.Sprintf("%d items for eip#%d", len(got), c.eip), want: fmt.Sprintf("%d", len(want)), diff: diff, x: x}
	}
	if n := len(pg.EipAddresses.EipAddress); pg.TotalCount != n {
		return &seqProblem{check: CheckPagination, msg: "TotalCount is not the number of EIPs an AllocationId filter matches", got: strconv.Itoa(pg.TotalCount), want: strconv.Itoa(n), x: x}
	}
	return nil
}

// verifyPages checks every page of a listing: released EIPs absent, the sequence's EIPs as
// the model holds them, then the counts.
func (c *seqStep) verifyPages(m *seqModel, obs *seqObservation) *seqProblem {
	d := obs.d
	for i, ok := range obs.decoded {
		if !ok {
			x := obs.calls[i]
			return &seqProblem{check: m.out.check, msg: "the DescribeEipAddresses body does not decode into its items", got: excerpt(x.resp.Body), want: "TotalCount and EipAddresses.EipAddress", x: x}
		}
	}
	size, baseline, own := c.pageSize, d.t.sh.base.total, m.live()
	if c.kind == seqDescribeStatus {
		size, baseline, own = c.t.pageMax, d.t.sh.base.status[c.status], m.count(c.status)
	}
	others := obs.others
	wantTotal := baseline + own + others
	seen := map[string]int{} // AllocationId → page
	var got []eipView
	union := 0
	for i, pg := range obs.pages {
		x := obs.calls[i]
		for _, it := range pg.EipAddresses.EipAddress {
			if p, dup := seen[it.AllocationId]; dup {
				return &seqProblem{check: CheckPagination, msg: "pages are not disjoint", got: fmt.Sprintf("%s on pages %d and %d", it.AllocationId, p, i+1), want: "each EIP on one page", x: x}
			}
			seen[it.AllocationId] = i + 1
			union++
			if c.kind == seqDescribeStatus && it.Status != c.status {
				return &seqProblem{check: CheckModel, msg: "a Status filter listed an EIP in another status", got: it.AllocationId + " " + it.Status, want: c.status, x: x}
			}
			k := d.symbol(it.AllocationId)
			switch {
			case k < 0 && obs.gone[it.AllocationId]:
				return &seqProblem{check: CheckUseAfterRelease, msg: "DescribeEipAddresses still lists an EIP an earlier sequence released", got: fmt.Sprintf("%s on page %d", it.AllocationId, i+1), want: "not listed", x: x}
			case k < 0:
			case m.eips[k].status == "":
				return &seqProblem{check: CheckUseAfterRelease, msg: "DescribeEipAddresses still lists a released EIP", got: fmt.Sprintf("%s (eip#%d) on page %d", it.AllocationId, k, i+1), want: "not listed", x: x}
			default:
				got = append(got, it)
			}
		}
	}
	var want []eipView
	for k, e := range m.eips {
		if e.status != "" && (c.kind != seqDescribeStatus || e.status == c.status) {
			want = append(want, d.view(m, k))
		}
	}
	x := obs.calls[len(obs.calls)-1]
	if diff := cmp.Diff(want, got, statefulViewOptions); diff != "" {
		what := "every page"
		if c.kind == seqDescribeStatus {
			what = "Status=" + c.status
		}
		return &seqProblem{check: CheckModel, msg: "DescribeEipAddresses (" + what + ") does not list the sequence's EIPs as the model holds them", got: fmt.Sprintf("%d of them", len(got)), want: strconv.Itoa(len(want)), diff: diff, x: x}
	}
	for i, pg := range obs.pages {
		x := obs.calls[i]
		n := len(pg.EipAddresses.EipAddress)
		switch {
		case pg.TotalCount != wantTotal:
			return &seqProblem{check: CheckPagination, msg: "TotalCount is not the region's other EIPs plus the sequence's own", got: strconv.Itoa(pg.TotalCount),
				want: countWant(wantTotal, baseline, own, others), x: x}
		case n > size:
			return &seqProblem{check: CheckPagination, msg: "a page is longer than PageSize", got: fmt.Sprintf("%d items on page %d", n, i+1), want: fmt.Sprintf("at most %d", size), x: x}
		case n < size && i < len(obs.pages)-1:
			return &seqProblem{check: CheckPagination, msg: "a page before the last is not full", got: fmt.Sprintf("%d items on page %d", n, i+1), want: strconv.Itoa(size), x: x}
		}
	}
	if union != obs.pages[0].TotalCount {
		return &seqProblem{check: CheckPagination, msg: "the pages together do not list TotalCount EIPs", got: fmt.Sprintf("%d EIPs on %d pages", union, len(obs.pages)), want: fmt.Sprintf("TotalCount %d", obs.pages[0].TotalCount), x: x}
	}
	return nil
}

// phaseListed reads a listing against what the phase did, with the region lock held (so
// that no lane changes either meanwhile): others counts the listed EIPs of the phase's other
// sequences (AllocationIds an allocation of the phase returned that are not the sequence's
// own; a released one listed counts too: its listing is CheckUseAfterRelease's finding, not a
// miscount), gone holds the listed AllocationIds the phase had released.
func (d *seqDriver) phaseListed(obs *seqObservation) (others int, gone map[string]bool) {
	sh := d.t.sh
	sh.mu.Lock()
	defer sh.mu.Unlock()
	seen := map[string]bool{}
	gone = map[string]bool{}
	for _, pg := range obs.pages {
		for _, it := range pg.EipAddresses.EipAddress {
			id := it.AllocationId
			if sh.gone[id] {
				gone[id] = true
			}
			if seen[id] || d.symbol(id) >= 0 || slices.Contains(d.extra, id) {
				continue
			}
			seen[id] = true
			if sh.ids[id] {
				others++
			}
		}
	}
	return others, gone
}

// countWant renders an expected TotalCount and where it comes from.
func countWant(want, baseline, own, others int) string {
	return fmt.Sprintf("%d (%d not the phase's + %d of the sequence + %d of the phase's other sequences, as listed)", want, baseline, own, others)
}

// regionMode is how a command holds the region lock: listings (every page, by Status) with
// other listings, re-allocations by IpAddress alone, commands that change no EIP's status or
// count (describing or monitoring one EIP, modifying its Name or Bandwidth, which no other
// sequence's listing compares, an ECS public IP) with anything but a re-allocation, and
// everything else with other changes (a repeated ClientToken too, which then lists the region
// with the other listings).
func (c *seqStep) regionMode() regionMode {
	switch c.kind {
	case seqDescribeStatus, seqDescribePages:
		return listing
	case seqReallocate:
		return alone
	case seqDescribeID, seqMonitor, seqModify, seqECS:
		return neutral
	}
	return changing
}

// regionMode is a way of holding a regionLock.
type regionMode int

const (
	changing regionMode = iota // with other changes: creates, changes or releases EIPs
	listing                    // with other listings: reads the region's EIPs as a whole
	alone                      // with nothing else
	neutral                    // with anything but alone
)

// regionLock lets commands of one mode run together and keeps modes apart: no EIP changes
// while a listing is read. When it falls free, the waiting modes (changing, listing, alone)
// take turns, and a turn admits every command of its mode waiting then; newcomers join a
// running turn only while no other mode waits, so no mode starves. Neutral commands run
// beside any turn but alone's, and wait while alone waits.
type regionLock struct {
	mu      sync.Mutex
	cond    sync.Cond
	mode    regionMode // of the running turn
	active  int        // its commands
	neutral int        // neutral commands running
	waiting [4]int
	admit   int        // commands of mode the current turn still admits
	next    regionMode // where the search for the next turn starts
}

func (l *regionLock) lock(m regionMode) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cond.L == nil {
		l.cond.L = &l.mu
	}
	l.waiting[m]++
	for !l.enter(m) {
		l.cond.Wait()
	}
	l.waiting[m]--
}

// enter starts a command of mode m if it may start now.
func (l *regionLock) enter(m regionMode) bool {
	aloneRuns := l.active > 0 && l.mode == alone
	switch {
	case m == neutral:
		if aloneRuns || l.waiting[alone] > 0 {
			return false
		}
		l.neutral++
		return true
	case l.active == 0 && l.turn() == m:
		if m == alone && l.neutral > 0 {
			return false
		}
		l.mode, l.next = m, (m+1)%3
		l.admit = 0
		if m != alone {
			l.admit = l.waiting[m] - 1
		}
	case l.active > 0 && l.mode == m && m != alone && (l.admit > 0 || !l.othersWait(m)):
		l.admit = max(0, l.admit-1)
	default:
		return false
	}
	l.active++
	return true
}

// turn is the mode whose turn it is when the lock is free: the first waiting one from next.
func (l *regionLock) turn() regionMode {
	for i := range regionMode(3) {
		if m := (l.next + i) % 3; l.waiting[m] > 0 {
			return m
		}
	}
	return l.next
}

func (l *regionLock) othersWait(m regionMode) bool {
	for other, n := range l.waiting[:3] {
		if regionMode(other) != m && n > 0 {
			return true
		}
	}
	return false
}

func (l *regionLock) unlock(m regionMode) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if m == neutral {
		l.neutral--
		if l.neutral == 0 {
			l.cond.Broadcast()
		}
		return
	}
	l.active--
	if l.active == 0 {
		l.cond.Broadcast()
	}
}

// The driver.

// seqDriver is the system under test for one sequence: the endpoint through the session, with
// the symbols' real values and the model as the sequence has it so far.
type seqDriver struct {
	t       *statefulRun
	state   *seqModel // the model after the last command, sent or not
	sent    *seqModel // ... after the last command sent
	record  bool      // judge through the session (the replay) instead of the scratch report
	serial  int
	counter string // the counterexample, for the replay's requests

	ids    []string // the AllocationId of each eip#
	ips    []string // the address of each addr#
	tokens []string // the ClientToken of each token#
	extra  []string // AllocationIds the endpoint created outside the model
	ecsIPs []string

	steps   []*seqStep
	lines   []string
	failAt  int // the first failing step, from 1
	problem *seqProblem
	off     bool // stop sending: the sequence cannot go on

	// While a command holds the region lock, its answers' response checks wait in later
	// (under laterMu: a listing's pages arrive at once) and run once the lock is free, so
	// the other lanes wait only for the exchanges.
	deferJudge bool
	laterMu    sync.Mutex
	later      []func()
}

func (t *statefulRun) newDriver(p *statefulProperty, initial *seqModel, record bool) *seqDriver {
	t.drivers++
	d := &seqDriver{t: t, state: initial, sent: initial, record: record, serial: t.drivers}
	if t.first != nil && !record {
		t.shrinkRuns++
	}
	if t.sh.halted() || (!record && t.shrinkRuns > statefulShrinkRun) {
		d.off = true // out of budget: every later shrink passes, which ends the search
	}
	return d
}

// call sends a request and judges it with the response checks; nil when it was not answered.
func (d *seqDriver) call(op *spec.Operation, params url.Values, name string) *seqExchange {
	if d.off || d.t.sh.halted() {
		d.off = true
		return nil
	}
	x := d.exchange(op, params, name)
	if x == nil {
		d.off = true
	}
	return x
}

// exchange is call without the driver's bookkeeping (several may run at once): nil when the
// request was not answered, and then the phase stops.
func (d *seqDriver) exchange(op *spec.Operation, params url.Values, name string) *seqExchange {
	t := d.t
	r := &request{op: op, phase: PhaseStateful, name: name, params: params, allowState: true, counter: d.counter}
	resp, err := t.s.send(t.ctx, r)
	if err != nil {
		t.sh.stop("", err)
		return nil
	}
	if resp == nil {
		t.sh.stop("a request was not answered (see the transport violation); the phase stopped", nil)
		return nil
	}
	j := t.quiet
	if d.record {
		j = t.s
	}
	judge := func() { j.judge(r, resp, op.Evaluate(params, spec.Options{})) }
	if d.deferJudge {
		d.laterMu.Lock()
		d.later = append(d.later, judge)
		d.laterMu.Unlock()
	} else {
		judge()
	}
	return &seqExchange{r: r, resp: resp}
}

// judgeLater runs the response checks exchange deferred, in the order they were deferred.
func (d *seqDriver) judgeLater() {
	d.laterMu.Lock()
	later := d.later
	d.later = nil
	d.laterMu.Unlock()
	for _, judge := range later {
		judge()
	}
}

// count returns DescribeEipAddresses' TotalCount for a filter.
func (d *seqDriver) count(filter url.Values) (int, bool) {
	obs := &seqObservation{}
	d.countInto(obs, filter, "baseline: count EIPs")
	if len(obs.pages) == 0 || !obs.decoded[0] || obs.calls[0].resp.Status != http.StatusOK {
		return 0, false
	}
	return obs.pages[0].TotalCount, true
}

func (d *seqDriver) countInto(obs *seqObservation, filter url.Values, name string) {
	p := d.t.base(d.t.describe)
	for k, v := range filter {
		p[k] = v
	}
	p.Set("PageSize", strconv.Itoa(d.t.pageMin))
	d.pageInto(obs, p, name)
}

// pageInto sends one DescribeEipAddresses request and decodes its page.
func (d *seqDriver) pageInto(obs *seqObservation, p url.Values, name string) bool {
	return d.addPage(obs, d.call(d.t.describe, p, name))
}

// addPage adds an answered DescribeEipAddresses request to obs; false when it was not
// answered, failed, or does not decode.
func (d *seqDriver) addPage(obs *seqObservation, x *seqExchange) bool {
	if x == nil {
		return false
	}
	obs.calls = append(obs.calls, x)
	var pg describePage
	ok := x.resp.Status == http.StatusOK && json.Unmarshal(decodeJSON(x.resp, d.t.describe), &pg) == nil
	obs.pages = append(obs.pages, pg)
	obs.decoded = append(obs.decoded, ok)
	return ok && x.resp.Status == http.StatusOK
}

// allPages lists every page of a filter, until a page is shorter than size. The first page's
// TotalCount says how many more there are; those are asked for at once (the region lock
// keeps the listing still meanwhile), then one at a time while the last is full.
func (d *seqDriver) allPages(obs *seqObservation, filter url.Values, size int, format string, expect int, name string) {
	limit := min(expect/size+3, 200)
	page := func(n int) url.Values {
		p := d.t.base(d.t.describe)
		for k, v := range filter {
			p[k] = v
		}
		p.Set("PageSize", strconv.Itoa(size))
		p.Set("PageNumber", strconv.Itoa(n))
		if format != "" {
			p.Set("Format", format)
		}
		return p
	}
	full := func() bool { return len(obs.pages[len(obs.pages)-1].EipAddresses.EipAddress) >= size }
	if !d.pageInto(obs, page(1), name+": page 1") || !full() {
		return
	}
	last := min(max((obs.pages[0].TotalCount+size-1)/size, 2), limit)
	xs := make([]*seqExchange, last-1)
	var wg sync.WaitGroup
	sem := make(chan struct{}, statefulPageFetch)
	for n := 2; n <= last && !d.off && !d.t.sh.halted(); n++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			xs[n-2] = d.exchange(d.t.describe, page(n), fmt.Sprintf("%s: page %d", name, n))
		}()
	}
	wg.Wait()
	for _, x := range xs {
		if !d.addPage(obs, x) {
			d.off = d.off || x == nil
			return
		}
		if !full() {
			return
		}
	}
	for n := last + 1; n <= limit; n++ {
		if !d.pageInto(obs, page(n), fmt.Sprintf("%s: page %d", name, n)) || !full() {
			return
		}
	}
}

// cleanup releases everything the sequence created (unassociating first); what it cannot
// release stays on the janitor's list.
func (d *seqDriver) cleanup() {
	t := d.t
	if _, err := t.sh.state(); err != nil || t.ctx.Err() != nil {
		return
	}
	t.sh.region.lock(changing)
	defer t.sh.region.unlock(changing)
	var ids []string
	for _, id := range append(slices.Clone(d.ids), d.extra...) {
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	send := func(op *spec.Operation, p url.Values) *rpc.Response {
		resp, err := t.s.send(t.ctx, &request{op: op, phase: PhaseStateful, name: "cleanup", params: p})
		if err != nil {
			return nil
		}
		return resp
	}
	release := func(id string) bool {
		p := t.base(t.release)
		p.Set("AllocationId", id)
		if resp := send(t.release, p); resp != nil && resp.Status == http.StatusOK {
			t.released(id)
			return true
		}
		return false
	}
	unassociate := func(id, inst string) {
		p := t.base(t.unassoc)
		p.Set("AllocationId", id)
		p.Set("InstanceId", inst)
		send(t.unassoc, p)
	}
	for _, id := range ids {
		// The model says what to do; when the endpoint disagrees, ask it.
		var e eipModel
		if k := d.symbol(id); k >= 0 && d.sent != nil && k < len(d.sent.eips) && !slices.Contains(d.extra, id) {
			if e = d.sent.eips[k]; e.status == "" {
				continue // released by the sequence
			}
		}
		if e.status == eipInUse {
			unassociate(id, e.instance)
		}
		if release(id) {
			continue
		}
		p := t.base(t.describe)
		p.Set("AllocationId", id)
		resp := send(t.describe, p)
		if resp == nil || resp.Status != http.StatusOK {
			continue
		}
		var pg describePage
		if json.Unmarshal(decodeJSON(resp, t.describe), &pg) != nil {
			continue
		}
		i := slices.IndexFunc(pg.EipAddresses.EipAddress, func(v eipView) bool { return v.AllocationId == id })
		if i < 0 {
			t.s.forgetEIP(id)
			continue
		}
		if inst := pg.EipAddresses.EipAddress[i].InstanceId; inst != "" {
			unassociate(id, inst)
		}
		release(id)
	}
}

// listing renders the sequence for a counterexample: the steps, the failing one marked, and
// what the symbols stood for.
func (d *seqDriver) listing() string {
	var b strings.Builder
	for i, l := range d.lines {
		fmt.Fprintf(&b, "%3d. %s\n", i+1, l)
	}
	for k, id := range d.ids {
		if id == "" {
			continue
		}
		fmt.Fprintf(&b, "  eip#%d = %s", k, id)
		if d.state != nil && k < len(d.state.eips) {
			a := d.state.eips[k].addr
			fmt.Fprintf(&b, ", addr#%d = %s", a, orNone(d.ips[a]))
		}
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// The generator.

// genStep generates a command that is possible in the model's state, with a shrinker.
func (t *statefulRun) genStep(p *statefulProperty, m *seqModel) gopter.Gen {
	return func(gp *gopter.GenParameters) *gopter.GenResult {
		return gopter.NewGenResult(t.pick(p, m, gp.Rng), shrinkStep)
	}
}

func (t *statefulRun) possible(k seqKind, m *seqModel) bool {
	usable := slices.ContainsFunc(m.eips, func(e eipModel) bool { return !e.shadowed })
	switch k {
	case seqAllocate:
		return m.live() < t.cap
	case seqRepeat:
		return len(m.tokens) > 0
	case seqUnassociate:
		return usable && len(t.pool) > 0
	case seqAssociate, seqModify, seqRelease, seqMonitor, seqDescribeID:
		return usable
	}
	return true
}

func (t *statefulRun) pick(p *statefulProperty, m *seqModel, r *rand.Rand) *seqStep {
	total := 0
	for k, w := range p.weights {
		if w > 0 && t.possible(seqKind(k), m) {
			total += w
		}
	}
	kind := seqDescribePages
	if total > 0 {
		n := r.Intn(total)
		for k, w := range p.weights {
			if w > 0 && t.possible(seqKind(k), m) {
				if n < w {
					kind = seqKind(k)
					break
				}
				n -= w
			}
		}
	}
	c := &seqStep{t: t, kind: kind, eip: -1, addr: -1, token: -1}
	oneOf := func(xs []string) string { return xs[r.Intn(len(xs))] }
	chance := func(percent int) bool { return r.Intn(100) < percent }
	name := func() string { return fmt.Sprintf("eipconform-%d", r.Intn(1000)) }
	format := func() string {
		if chance(30) {
			return oneOf(t.formats)
		}
		return ""
	}
	switch kind {
	case seqAllocate:
		c.fresh = chance(p.tokens)
		if chance(50) {
			c.name = name()
		}
		if chance(50) {
			c.internet = oneOf(t.internetTypes)
		}
		if chance(50) {
			c.bandwidth = t.bandwidth(stdcmp.Or(c.internet, t.internetDefault), r)
		}
		t.keepValid(c)
	case seqRepeat:
		c.token = r.Intn(len(m.tokens))
	case seqReallocate:
		var released, held []int
		for a, h := range m.addrs {
			if h < 0 {
				released = append(released, a)
			} else {
				held = append(held, a)
			}
		}
		switch x := r.Intn(100); {
		case x < 60 && len(released) > 0 && m.live() < t.cap:
			c.addr = released[r.Intn(len(released))]
		case x < 85 && len(held) > 0:
			c.addr = held[r.Intn(len(held))]
		}
	case seqAssociate, seqUnassociate, seqModify, seqRelease, seqMonitor, seqDescribeID:
		c.eip = t.pickEIP(m, r, kind)
		e := m.eips[c.eip]
		switch kind {
		case seqAssociate:
			switch x := r.Intn(100); {
			case x < 80 && len(t.pool) > 0:
				c.inst = oneOf(t.pool)
			case x < 95 && len(t.assocBad) > 0:
				c.inst = oneOf(t.assocBad)
			default:
				c.inst = t.unknown
			}
		case seqUnassociate:
			c.inst = oneOf(t.pool)
			if e.status == eipInUse && chance(80) {
				c.inst = e.instance
			}
		case seqModify:
			if chance(60) {
				c.name = name()
			}
			if c.name == "" || chance(50) {
				c.bandwidth = t.bandwidth(stdcmp.Or(e.internet, t.internetDefault), r)
			}
			t.keepValid(c)
		case seqMonitor:
			c.period = t.periods[r.Intn(len(t.periods))]
			c.points = int64(1 + r.Intn(12))
			if chance(10) {
				c.points = t.maxPoints
			}
			if chance(30) {
				c.late = 1 + r.Intn(59)
			}
		case seqDescribeID:
			c.format = format()
		}
	case seqDescribeStatus:
		c.status = oneOf([]string{eipAvailable, eipInUse})
		c.format = format()
	case seqDescribePages:
		c.pageSize = min(t.pageMin+r.Intn(3), t.pageMax)
		c.format = format()
	case seqECS:
		switch x := r.Intn(100); {
		case x < 60 && t.ecsOK != "":
			c.inst = t.ecsOK
		case x < 90 && len(t.ecsBad) > 0:
			c.inst = oneOf(t.ecsBad)
		default:
			c.inst = t.unknown
		}
	}
	return c
}

// pickEIP picks an EIP the command can name: mostly live ones, Available ones for half the
// associations.
func (t *statefulRun) pickEIP(m *seqModel, r *rand.Rand, kind seqKind) int {
	var all, live, available []int
	for k, e := range m.eips {
		if e.shadowed {
			continue
		}
		all = append(all, k)
		if e.status != "" {
			live = append(live, k)
		}
		if e.status == eipAvailable {
			available = append(available, k)
		}
	}
	switch x := r.Intn(100); {
	case kind == seqAssociate && x < 50 && len(available) > 0:
		return available[r.Intn(len(available))]
	case x < 85 && len(live) > 0:
		return live[r.Intn(len(live))]
	}
	return all[r.Intn(len(all))]
}

// bandwidth picks a Bandwidth the EIP's metering allows.
func (t *statefulRun) bandwidth(internet string, r *rand.Rand) int64 {
	hi, ok := t.meteringMax[internet]
	if !ok || hi < t.bandwidthMin {
		return 0
	}
	return t.bandwidthMin + r.Int63n(hi-t.bandwidthMin+1)
}

// keepValid drops what the oracle would reject from an allocation or modification: the
// phase tests state, not parameters.
func (t *statefulRun) keepValid(c *seqStep) {
	op := t.alloc
	if c.kind == seqModify {
		op = t.modify
	}
	build := func() url.Values {
		p := t.base(op)
		if c.name != "" {
			p.Set("Name", c.name)
		}
		if c.internet != "" {
			p.Set("InternetChargeType", c.internet)
		}
		if c.bandwidth != 0 {
			p.Set("Bandwidth", strconv.FormatInt(c.bandwidth, 10))
		}
		return p
	}
	for _, drop := range []func(){func() {}, func() { c.bandwidth = 0 }, func() { c.name = "" }, func() { c.internet = "" }} {
		drop()
		if op.Evaluate(build(), spec.Options{}).Outcome != spec.Reject {
			return
		}
	}
}

// shrinkStep offers simpler versions of a command: fewer optional parameters.
func shrinkStep(v any) gopter.Shrink {
	c := v.(*seqStep)
	var out []*seqStep
	try := func(change func(*seqStep) bool) {
		n := *c
		if change(&n) {
			out = append(out, &n)
		}
	}
	switch c.kind {
	case seqAllocate:
		try(func(n *seqStep) bool { ok := n.fresh; n.fresh = false; return ok })
		try(func(n *seqStep) bool { ok := n.name != ""; n.name = ""; return ok })
		try(func(n *seqStep) bool { ok := n.bandwidth != 0; n.bandwidth = 0; return ok })
		try(func(n *seqStep) bool { ok := n.internet != "" && n.bandwidth == 0; n.internet = ""; return ok })
	case seqModify:
		try(func(n *seqStep) bool { ok := n.name != "" && n.bandwidth != 0; n.bandwidth = 0; return ok })
		try(func(n *seqStep) bool { ok := n.name != "" && n.bandwidth != 0; n.name = ""; return ok })
	case seqMonitor:
		try(func(n *seqStep) bool { ok := n.points > 1; n.points = 1; return ok })
		try(func(n *seqStep) bool { ok := n.late != 0; n.late = 0; return ok })
	case seqDescribeID, seqDescribeStatus, seqDescribePages:
		try(func(n *seqStep) bool { ok := n.format != ""; n.format = ""; return ok })
	}
	i := 0
	return func() (any, bool) {
		if i >= len(out) {
			return nil, false
		}
		i++
		return out[i-1], true
	}
}

package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Checks of the protocol phase.
const (
	CheckSignature     = "signature"      // a wrong signature is refused with the signature-mismatch error
	CheckAccessKey     = "access-key"     // an unknown AccessKeyId is refused
	CheckNonce         = "nonce"          // a SignatureNonce is accepted once, then refused as reused
	CheckTimestamp     = "timestamp"      // stale, future and malformed Timestamps are refused
	CheckCommonParams  = "common-params"  // each missing common parameter (or unsupported signature method or version) is refused
	CheckUnknownAction = "unknown-action" // an Action no product has is refused
	CheckVersion       = "version"        // another product's Version is refused, for every operation
	CheckMethods       = "methods"        // GET, POST and POST with the parameters split between query and body are accepted alike
	CheckParity        = "parity"         // JSON and XML answers agree: in values (read-only) or in shape (mutating)
)

func init() {
	register(phase{name: PhaseProtocol, auth: true, run: runProtocol})
}

// serverGenerated are the body fields whose values an endpoint makes up per call: shape
// parity compares their presence and type, not their values.
var serverGenerated = []string{"RequestId", "AllocationId", "EipAddress", "IpAddress", "OrderId"}

// protocolRun is the state of one protocol phase.
type protocolRun struct {
	s        *session
	f        *fixture
	describe *spec.Operation
	now      time.Time
}

// runProtocol checks the RPC protocol itself: authentication (skipped for NoAuth targets),
// common parameters, unknown actions, versions, methods and JSON/XML parity.
func runProtocol(ctx context.Context, s *session) error {
	pr := &protocolRun{s: s, f: s.newFixture(PhaseProtocol, 0), describe: s.spec.Operation("DescribeEipAddresses"), now: time.Now()}
	if pr.describe == nil {
		s.rep.skip("", PhaseProtocol, "the spec has no DescribeEipAddresses to probe the protocol with")
		return nil
	}
	checks := []func(context.Context) error{pr.commonParams, pr.unknownAction, pr.version, pr.methods, pr.parity}
	if s.target.NoAuth {
		s.rep.skip("", PhaseProtocol, "the target does not authenticate (NoAuth): the signature, access-key, nonce and timestamp checks and the missing signature parameters are skipped")
	} else {
		checks = append([]func(context.Context) error{pr.signature, pr.accessKey, pr.nonce, pr.timestamp}, checks...)
	}
	for _, check := range checks {
		if err := check(ctx); err != nil {
			return err
		}
	}
	releaseFixture(ctx, pr.f)
	return ctx.Err()
}

// selected reports whether check runs for op.
func (pr *protocolRun) selected(op *spec.Operation, check string) bool {
	return op != nil && pr.s.selected(op.Action, PhaseProtocol, check)
}

// auth is the oracle's option for this target.
func (pr *protocolRun) auth() spec.Options { return spec.Options{Auth: !pr.s.target.NoAuth} }

// complete returns params with every common parameter the client would add (Format and, for
// an authenticating target, the signature parameters), each kept when params already has
// it, the ones named in omit removed, and signed for method unless params has a Signature or
// omit names it.
func (pr *protocolRun) complete(params url.Values, method string, omit ...string) url.Values {
	s := pr.s
	p := url.Values{}
	for k, v := range params {
		p[k] = slices.Clone(v)
	}
	set := func(name, value string) {
		if !p.Has(name) {
			p.Set(name, value)
		}
	}
	set(rpc.ParamFormat, string(rpc.DefaultFormat()))
	if !s.target.NoAuth {
		sig := s.spec.Signature
		set(rpc.ParamTimestamp, time.Now().UTC().Format(sig.TimestampLayout))
		set(rpc.ParamSignatureMethod, sig.Method)
		set(rpc.ParamSignatureVersion, sig.Version)
		set(rpc.ParamSignatureNonce, newNonce())
		set(rpc.ParamAccessKeyID, s.target.AccessKeyID)
	}
	for _, name := range omit {
		p.Del(name)
	}
	if !s.target.NoAuth && !p.Has(rpc.ParamSignature) && !slices.Contains(omit, rpc.ParamSignature) {
		p.Set(rpc.ParamSignature, rpc.Sign(methodOf(method), p, s.target.AccessKeySecret))
	}
	return p
}

// newNonce returns 16 random bytes in hex.
func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// expectError is the verdict for a request the protocol error id must refuse: the oracle
// cannot see signatures, nonces or clocks, so these verdicts are built from the spec's
// protocol error.
func (pr *protocolRun) expectError(op *spec.Operation, id, why string) (spec.Verdict, bool) {
	e, ok := pr.s.spec.ProtocolError(id)
	if !ok {
		pr.s.rep.skip(op.Action, PhaseProtocol, "the spec has no protocol error "+id)
		return spec.Verdict{}, false
	}
	return spec.Verdict{
		Operation: op.Action, Outcome: spec.Reject,
		Errors:   []spec.Expected{{Status: e.Status, Code: e.Code, Mapping: e.Mapping, Rules: []string{id}}},
		Findings: []spec.Finding{{Rule: id, Result: spec.Violated, Why: why}},
	}, true
}

// send sends complete params (the client adds nothing to them) and judges the answer
// against v, recording the status judgement under check. nil means not sent.
func (pr *protocolRun) send(ctx context.Context, check, name string, op *spec.Operation, params url.Values, method string, v spec.Verdict) (*rpc.Response, error) {
	r := &request{op: op, phase: PhaseProtocol, check: check, name: name, params: params, method: method, statusCheck: check}
	resp, err := pr.s.send(ctx, r)
	if err != nil || resp == nil {
		return nil, err
	}
	pr.s.judge(r, resp, v)
	return resp, nil
}

// signature: a signature that is not one, one made with another secret, one of other
// parameter values and one of another method must each be refused.
func (pr *protocolRun) signature(ctx context.Context) error {
	op := pr.describe
	if !pr.selected(op, CheckSignature) {
		return nil
	}
	secret := pr.s.target.AccessKeySecret
	cases := []struct {
		name  string
		forge func(p url.Values) url.Values
	}{
		{"a Signature that is no signature", func(p url.Values) url.Values {
			p.Set(rpc.ParamSignature, "forged")
			return p
		}},
		{"signed with another secret", func(p url.Values) url.Values {
			p.Set(rpc.ParamSignature, rpc.Sign(http.MethodPost, p, secret+"-not"))
			return p
		}},
		{"PageSize changed after signing", func(p url.Values) url.Values {
			p.Set("PageSize", "10")
			p.Set(rpc.ParamSignature, rpc.Sign(http.MethodPost, p, secret))
			p.Set("PageSize", "20")
			return p
		}},
		{"signed for GET, sent as POST", func(p url.Values) url.Values {
			p.Set(rpc.ParamSignature, rpc.Sign(http.MethodGet, p, secret))
			return p
		}},
	}
	for _, c := range cases {
		p := pr.complete(pr.s.base(op), http.MethodPost, rpc.ParamSignature)
		p = c.forge(p)
		v, ok := pr.expectError(op, spec.ErrSignatureMismatch, c.name)
		if !ok {
			return nil
		}
		if _, err := pr.send(ctx, CheckSignature, c.name, op, p, http.MethodPost, v); err != nil {
			return err
		}
	}
	return nil
}

// accessKey: an AccessKeyId the endpoint does not know, correctly signed with the target's
// secret, must be refused.
func (pr *protocolRun) accessKey(ctx context.Context) error {
	op := pr.describe
	if !pr.selected(op, CheckAccessKey) {
		return nil
	}
	p := pr.s.base(op)
	p.Set(rpc.ParamAccessKeyID, "eipconform-unknown-"+newNonce()[:8])
	v, ok := pr.expectError(op, spec.ErrUnknownAccessKey, "AccessKeyId names no key")
	if !ok {
		return nil
	}
	_, err := pr.send(ctx, CheckAccessKey, "an unknown AccessKeyId", op, pr.complete(p, ""), "", v)
	return err
}

// nonce: a request is accepted, then another request with the same SignatureNonce (freshly
// timestamped and signed) is refused.
func (pr *protocolRun) nonce(ctx context.Context) error {
	op := pr.describe
	if !pr.selected(op, CheckNonce) {
		return nil
	}
	nonce := newNonce()
	p := pr.s.base(op)
	p.Set(rpc.ParamSignatureNonce, nonce)
	first := pr.complete(p, "")
	resp, err := pr.send(ctx, CheckNonce, "a fresh SignatureNonce", op, first, "", pr.s.spec.Evaluate(first, pr.auth()))
	if err != nil || resp == nil || resp.Status/100 != 2 {
		return err // the first use was refused: that is the violation, a reuse proves nothing
	}
	v, ok := pr.expectError(op, spec.ErrNonceReused, "SignatureNonce "+nonce+" was used by the previous request")
	if !ok {
		return nil
	}
	p.Set("PageSize", "11") // another request, the same nonce
	_, err = pr.send(ctx, CheckNonce, "the same SignatureNonce again", op, pr.complete(p, ""), "", v)
	return err
}

// timestamp: a Timestamp older or newer than the spec's window (by five minutes) is refused
// as expired, one not in the spec's layout as malformed.
func (pr *protocolRun) timestamp(ctx context.Context) error {
	op := pr.describe
	if !pr.selected(op, CheckTimestamp) {
		return nil
	}
	sig := pr.s.spec.Signature
	off := time.Duration(sig.TimestampWindowSeconds)*time.Second + 5*time.Minute
	now := time.Now().UTC()
	for _, c := range []struct {
		name, value string
		expired     bool
	}{
		{fmt.Sprintf("a Timestamp %s old", off), now.Add(-off).Format(sig.TimestampLayout), true},
		{fmt.Sprintf("a Timestamp %s ahead", off), now.Add(off).Format(sig.TimestampLayout), true},
		{"a Timestamp with a space for T", now.Format(strings.Replace(sig.TimestampLayout, "T", " ", 1)), false},
		{"a Timestamp in Unix seconds", fmt.Sprint(now.Unix()), false},
		{"a Timestamp in RFC 1123", now.Format(http.TimeFormat), false},
	} {
		p := pr.s.base(op)
		p.Set(rpc.ParamTimestamp, c.value)
		p = pr.complete(p, "")
		v := pr.s.spec.Evaluate(p, pr.auth())
		if c.expired {
			var ok bool
			if v, ok = pr.expectError(op, spec.ErrTimestampExpired, c.name); !ok {
				continue
			}
		}
		if _, err := pr.send(ctx, CheckTimestamp, c.name, op, p, "", v); err != nil {
			return err
		}
	}
	return nil
}

// commonParams: each common parameter left out (the signature ones only for authenticating
// targets), and an unsupported signature method and version, are refused as the oracle says.
func (pr *protocolRun) commonParams(ctx context.Context) error {
	op := pr.describe
	if !pr.selected(op, CheckCommonParams) {
		return nil
	}
	for _, name := range pr.s.spec.CommonParameters {
		param := op.Parameter(name)
		if param == nil || !param.Required || param.Auth && pr.s.target.NoAuth {
			continue
		}
		p := pr.complete(pr.s.base(op), http.MethodPost, name)
		r := &request{op: op, phase: PhaseProtocol, check: CheckCommonParams, name: name + " missing", params: p,
			method: http.MethodPost, statusCheck: CheckCommonParams}
		resp, err := pr.s.sendRaw(ctx, r, nil, p)
		if err != nil {
			return err
		}
		if resp != nil {
			pr.s.judge(r, resp, pr.s.spec.Evaluate(p, pr.auth()))
		}
	}
	if pr.s.target.NoAuth {
		return nil
	}
	for _, c := range []struct{ name, value string }{
		{rpc.ParamSignatureMethod, "HMAC-SHA256"},
		{rpc.ParamSignatureVersion, "2.0"},
	} {
		p := pr.s.base(op)
		p.Set(c.name, c.value)
		p = pr.complete(p, "")
		if _, err := pr.send(ctx, CheckCommonParams, c.name+"="+c.value, op, p, "", pr.s.spec.Evaluate(p, pr.auth())); err != nil {
			return err
		}
	}
	return nil
}

// unknownAction: an Action no product has is refused.
func (pr *protocolRun) unknownAction(ctx context.Context) error {
	op := pr.describe
	if !pr.selected(op, CheckUnknownAction) {
		return nil
	}
	p := pr.s.base(op)
	p.Set(rpc.ParamAction, "EipconformNoSuchAction")
	p = pr.complete(p, "")
	_, err := pr.send(ctx, CheckUnknownAction, "Action=EipconformNoSuchAction", op, p, "", pr.s.spec.Evaluate(p, pr.auth()))
	return err
}

// version: every operation called with another product's Version is refused.
func (pr *protocolRun) version(ctx context.Context) error {
	for _, op := range pr.s.spec.Operations {
		if !pr.selected(op, CheckVersion) {
			continue
		}
		other := ""
		for _, p := range pr.s.spec.Products {
			if p.Name != op.Product && p.Version != op.Version {
				other = p.Name + " " + p.Version
				params := pr.s.base(op)
				params.Set(rpc.ParamVersion, p.Version)
				params = pr.f.place(op, params)
				params = pr.complete(params, "")
				if _, err := pr.send(ctx, CheckVersion, "Version of "+other, op, params, "", pr.s.spec.Evaluate(params, pr.auth())); err != nil {
					return err
				}
				break
			}
		}
		if other == "" {
			pr.s.rep.skip(op.Action, PhaseProtocol, "no other product has another version")
		}
	}
	return nil
}

// methods: the same requests sent as GET (query), POST (form body) and POST with the
// parameters split between query and body are all accepted, with equal answers.
func (pr *protocolRun) methods(ctx context.Context) error {
	s := pr.s
	monitor := s.spec.Operation("DescribeEipMonitorData")
	modify := s.spec.Operation("ModifyEipAddressAttribute")
	if (pr.selected(monitor, CheckMethods) || pr.selected(modify, CheckMethods)) && pr.f.eip == "" && s.canMutate(s.spec.Operation("AllocateEipAddress")) {
		pr.f.allocate(ctx)
	}
	for _, op := range []*spec.Operation{pr.describe, monitor, modify} {
		if !pr.selected(op, CheckMethods) {
			continue
		}
		params, ok := pr.readRequest(op)
		if !ok {
			s.rep.skip(op.Action, PhaseProtocol, "methods: the run has no EIP of its own to ask about")
			continue
		}
		if op == modify {
			params.Set("Name", "eipconform-methods")
		}
		type answer struct {
			how, method string
			resp        *rpc.Response
		}
		var answers []answer
		for _, how := range []string{http.MethodGet, http.MethodPost, "split"} {
			method := how
			if how == "split" {
				method = http.MethodPost
			}
			p := pr.complete(params, method)
			r := &request{op: op, phase: PhaseProtocol, check: CheckMethods, name: how, params: p, method: method, statusCheck: CheckMethods}
			var resp *rpc.Response
			var err error
			if how == "split" {
				query, form := splitParams(p)
				resp, err = s.sendRaw(ctx, r, query, form)
			} else {
				resp, err = s.send(ctx, r)
			}
			if err != nil {
				return err
			}
			if resp == nil {
				continue
			}
			if ok := s.judge(r, resp, s.spec.Evaluate(p, pr.auth())); ok && resp.Status/100 == 2 {
				answers = append(answers, answer{how, method, resp})
			}
		}
		if len(answers) < 2 {
			continue
		}
		first := answers[0]
		_, want, _ := rpc.DecodeSuccess(first.resp.Format, first.resp.Body, op.SuccessSchema().Value)
		for _, a := range answers[1:] {
			_, got, _ := rpc.DecodeSuccess(a.resp.Format, a.resp.Body, op.SuccessSchema().Value)
			r := &request{op: op, phase: PhaseProtocol, name: first.how + " vs " + a.how, params: a.resp.Params, method: a.method}
			if diff := cmp.Diff(want, got, ignoreRequestID()); diff != "" {
				s.fail(r, a.resp, CheckMethods, "the same request answered differently by method", a.how, "the answer to "+first.how, diff)
			} else {
				s.pass(r, CheckMethods)
			}
		}
	}
	return nil
}

// splitParams puts every other parameter (in sorted order) in the query and the rest in the
// body.
func splitParams(p url.Values) (query, form url.Values) {
	query, form = url.Values{}, url.Values{}
	for i, k := range slices.Sorted(maps.Keys(p)) {
		if i%2 == 0 {
			query[k] = p[k]
		} else {
			form[k] = p[k]
		}
	}
	return query, form
}

// readRequest returns op's read-only request about the fixture's resources: its EIP for
// DescribeEipAddresses, ModifyEipAddressAttribute and DescribeEipMonitorData (the last ten
// minutes of the previous hour), its ENI for DescribeEipGatewayInfo. false when the fixture
// has no such resource.
func (pr *protocolRun) readRequest(op *spec.Operation) (url.Values, bool) {
	p := pr.s.base(op)
	switch op.Action {
	case "DescribeEipAddresses":
		if pr.f.eip != "" {
			p.Set("AllocationId", pr.f.eip)
		}
	case "DescribeEipMonitorData", "ModifyEipAddressAttribute":
		if pr.f.eip == "" {
			return nil, false
		}
		p.Set("AllocationId", pr.f.eip)
		if op.Action == "DescribeEipMonitorData" {
			layout := op.Parameter("StartTime").TimeLayout
			start := pr.now.UTC().Truncate(time.Hour).Add(-time.Hour)
			p.Set("StartTime", start.Format(layout))
			p.Set("EndTime", start.Add(10*time.Minute).Format(layout))
			p.Set("Period", "60")
		}
	case "DescribeEipGatewayInfo":
		if pr.f.eni == "" {
			return nil, false
		}
		p.Set("InstanceId", pr.f.eni)
	}
	return p, true
}

func ignoreRequestID() cmp.Option {
	return cmpopts.IgnoreMapEntries(func(k string, _ any) bool { return k == "RequestId" })
}

// parity: JSON and XML answers to the same read-only request decode to equal values (but
// RequestId); mutating operations, done once in each format, answer with the same shape
// (values the server makes up per call compared by type only).
func (pr *protocolRun) parity(ctx context.Context) error {
	s := pr.s
	allocate := s.spec.Operation("AllocateEipAddress")
	if pr.f.eip == "" && s.canMutate(allocate) && !s.opts.DryRun {
		pr.f.allocate(ctx)
	}
	// Associate the EIP with an ENI (MULTI_BINDED), so the descriptions have an instance and
	// the gateway information an entry.
	assoc, unassoc := s.spec.Operation("AssociateEipAddress"), s.spec.Operation("UnassociateEipAddress")
	bound := false
	if pr.f.eip != "" && pr.f.eni != "" && s.canMutate(assoc) && !s.opts.DryRun {
		p := s.base(assoc)
		p.Set("AllocationId", pr.f.eip)
		p.Set("InstanceId", pr.f.eni)
		p.Set("InstanceType", "NetworkInterface")
		p.Set("Mode", "MULTI_BINDED")
		resp, err := s.send(ctx, &request{op: assoc, phase: PhaseProtocol, name: "setup: associate with an ENI", params: p})
		if err != nil {
			return err
		}
		bound = resp != nil && resp.Status == http.StatusOK
	}
	for _, action := range []string{"DescribeEipAddresses", "DescribeEipMonitorData", "DescribeEipGatewayInfo"} {
		op := s.spec.Operation(action)
		if !pr.selected(op, CheckParity) {
			continue
		}
		params, ok := pr.readRequest(op)
		if !ok {
			s.rep.skip(op.Action, PhaseProtocol, "parity: the run has no resource of its own to ask about")
			continue
		}
		if err := pr.compareFormats(ctx, op, "the same read-only request", params, params, false); err != nil {
			return err
		}
	}
	if bound {
		p := s.base(unassoc)
		p.Set("AllocationId", pr.f.eip)
		p.Set("InstanceId", pr.f.eni)
		p.Set("InstanceType", "NetworkInterface")
		if _, err := s.send(ctx, &request{op: unassoc, phase: PhaseProtocol, name: "teardown: unassociate from the ENI", params: p}); err != nil {
			return err
		}
	}
	return pr.mutatingParity(ctx)
}

// mutatingParity does each mutating operation once in JSON and once in XML and compares the
// shapes of the answers.
func (pr *protocolRun) mutatingParity(ctx context.Context) error {
	s := pr.s
	op := func(action string) *spec.Operation {
		o := s.spec.Operation(action)
		if o == nil || !pr.selected(o, CheckParity) || !s.canMutate(o) || s.opts.DryRun {
			return nil
		}
		return o
	}
	ids := map[rpc.Format]string{}
	if allocate := op("AllocateEipAddress"); allocate != nil {
		p := s.base(allocate)
		const name = "allocate once in each format"
		j, x, err := pr.sendBoth(ctx, allocate, name, p, p)
		if err != nil {
			return err
		}
		pr.compareAnswers(allocate, name, j, x, true)
		for f, resp := range map[rpc.Format]*rpc.Response{rpc.JSON: j, rpc.XML: x} {
			var a struct{ AllocationId string }
			if resp != nil && resp.Status == http.StatusOK && json.Unmarshal(decodeJSON(resp, allocate), &a) == nil {
				ids[f] = a.AllocationId
			}
		}
	}
	both := ids[rpc.JSON] != "" && ids[rpc.XML] != ""
	if both {
		if modify := op("ModifyEipAddressAttribute"); modify != nil {
			pj, px := s.base(modify), s.base(modify)
			pj.Set("AllocationId", ids[rpc.JSON])
			px.Set("AllocationId", ids[rpc.XML])
			pj.Set("Name", "eipconform-parity")
			px.Set("Name", "eipconform-parity")
			if err := pr.compareFormats(ctx, modify, "modify each EIP once", pj, px, true); err != nil {
				return err
			}
		}
		assoc, unassoc := op("AssociateEipAddress"), op("UnassociateEipAddress")
		if assoc != nil && unassoc != nil && pr.f.instance != "" {
			// One EIP and one instance, in turn: associate and unassociate in JSON, then in XML.
			var ra, ru [2]*rpc.Response
			for i, f := range []rpc.Format{rpc.JSON, rpc.XML} {
				pa := s.base(assoc)
				pa.Set("AllocationId", ids[rpc.JSON])
				pa.Set("InstanceId", pr.f.instance)
				pa.Set(rpc.ParamFormat, string(f))
				pu := s.base(unassoc)
				pu.Set("AllocationId", ids[rpc.JSON])
				pu.Set("InstanceId", pr.f.instance)
				pu.Set(rpc.ParamFormat, string(f))
				var err error
				if ra[i], err = pr.sendFormat(ctx, assoc, "associate, then unassociate, in "+string(f), pa); err != nil {
					return err
				}
				if ru[i], err = pr.sendFormat(ctx, unassoc, "associate, then unassociate, in "+string(f), pu); err != nil {
					return err
				}
			}
			pr.compareAnswers(assoc, "associate in JSON, then in XML", ra[0], ra[1], true)
			pr.compareAnswers(unassoc, "unassociate in JSON, then in XML", ru[0], ru[1], true)
		}
		if release := op("ReleaseEipAddress"); release != nil {
			pj, px := s.base(release), s.base(release)
			pj.Set("AllocationId", ids[rpc.JSON])
			px.Set("AllocationId", ids[rpc.XML])
			if err := pr.compareFormats(ctx, release, "release each EIP once", pj, px, true); err != nil {
				return err
			}
		}
	} else if op("AllocateEipAddress") != nil {
		for _, action := range []string{"ModifyEipAddressAttribute", "AssociateEipAddress", "UnassociateEipAddress", "ReleaseEipAddress"} {
			if op(action) != nil {
				s.rep.skip(action, PhaseProtocol, "parity: no EIP allocated in each format to work on")
			}
		}
	}
	for _, action := range []string{"OpenPublicIpAddressPoolService", "OpenVpcIpamService"} {
		if o := op(action); o != nil {
			p := s.base(o)
			if err := pr.compareFormats(ctx, o, "open the service in each format (opening is idempotent)", p, p, true); err != nil {
				return err
			}
		}
	}
	// A public IP cannot be given back, so AllocatePublicIpAddress is compared on an error
	// both formats must give alike: an instance that does not exist.
	if o := op("AllocatePublicIpAddress"); o != nil {
		p := s.base(o)
		p.Set("InstanceId", "i-eipconform-none")
		if err := pr.compareFormats(ctx, o, "an instance that does not exist, in each format", p, p, true); err != nil {
			return err
		}
	}
	return nil
}

// compareFormats sends pj in JSON and px in XML and compares the answers.
func (pr *protocolRun) compareFormats(ctx context.Context, op *spec.Operation, name string, pj, px url.Values, shape bool) error {
	j, x, err := pr.sendBoth(ctx, op, name, pj, px)
	if err != nil {
		return err
	}
	pr.compareAnswers(op, name, j, x, shape)
	return nil
}

// sendBoth sends pj in JSON, then px in XML.
func (pr *protocolRun) sendBoth(ctx context.Context, op *spec.Operation, name string, pj, px url.Values) (j, x *rpc.Response, err error) {
	pj, px = cloneParams(pj), cloneParams(px)
	pj.Set(rpc.ParamFormat, string(rpc.JSON))
	px.Set(rpc.ParamFormat, string(rpc.XML))
	if j, err = pr.sendFormat(ctx, op, name+" in JSON", pj); err != nil {
		return nil, nil, err
	}
	x, err = pr.sendFormat(ctx, op, name+" in XML", px)
	return j, x, err
}

// sendFormat sends params (placed in the run's world) and judges the answer.
func (pr *protocolRun) sendFormat(ctx context.Context, op *spec.Operation, name string, params url.Values) (*rpc.Response, error) {
	params = pr.f.place(op, params)
	r := &request{op: op, phase: PhaseProtocol, check: CheckParity, name: name, params: params, allowState: true}
	resp, err := pr.s.send(ctx, r)
	if err != nil || resp == nil {
		return nil, err
	}
	pr.s.judge(r, resp, op.Evaluate(params, spec.Options{}))
	return resp, nil
}

// compareAnswers compares a JSON and an XML answer: both successes (equal values but
// RequestId, or with shape the same keys and types, server-made values by type only), or both
// errors (equal status and body but RequestId).
func (pr *protocolRun) compareAnswers(op *spec.Operation, name string, j, x *rpc.Response, shape bool) {
	s := pr.s
	if j == nil || x == nil {
		return
	}
	r := &request{op: op, phase: PhaseProtocol, name: name, params: x.Params, method: http.MethodPost}
	okJ, okX := j.Status/100 == 2, x.Status/100 == 2
	switch {
	case okJ && okX:
		_, vj, errJ := rpc.DecodeSuccess(j.Format, j.Body, op.SuccessSchema().Value)
		root, vx, errX := rpc.DecodeSuccess(x.Format, x.Body, op.SuccessSchema().Value)
		if errJ != nil || errX != nil {
			return // the schema check has recorded it
		}
		if x.Format == rpc.XML && root != op.XMLRoot() {
			s.fail(r, x, CheckParity, "the XML answer's root element is not the operation's", "<"+root+">", "<"+op.XMLRoot()+">", "")
			return
		}
		opt := ignoreRequestID()
		if shape {
			vj, vx = shapeOf(vj, ""), shapeOf(vx, "")
			opt = cmp.Options{}
		}
		if diff := cmp.Diff(vj, vx, opt); diff != "" {
			what := "the JSON and XML answers differ"
			if shape {
				what = "the JSON and XML answers differ in shape"
			}
			s.fail(r, x, CheckParity, what, "the XML answer", "the JSON answer's "+map[bool]string{true: "shape", false: "values"}[shape], diff)
			return
		}
		s.pass(r, CheckParity)
	case !okJ && !okX:
		if j.Error == nil || x.Error == nil {
			return // the error-body check has recorded it
		}
		type answer struct {
			Status int
			Body   rpc.ErrorBody
		}
		diff := cmp.Diff(answer{j.Status, *j.Error}, answer{x.Status, *x.Error}, cmpopts.IgnoreFields(rpc.ErrorBody{}, "RequestId"))
		if diff != "" {
			s.fail(r, x, CheckParity, "the JSON and XML error answers differ", "the XML answer", "the JSON answer's status and body", diff)
			return
		}
		s.pass(r, CheckParity)
	default:
		if shape {
			// Done twice, a mutating operation may meet another state the second time.
			for _, resp := range []*rpc.Response{j, x} {
				if resp.Error != nil && isStateError(op, resp.Status, resp.Error.Code) {
					s.rep.skip(op.Action, PhaseProtocol, "parity: "+name+": one format's call was refused on state ("+resp.Error.Code+")")
					return
				}
			}
		}
		got, want := describeAnswer(x), describeAnswer(j)
		s.fail(r, x, CheckParity, "one format succeeds where the other fails", "XML: "+got, "JSON's outcome: "+want, "")
	}
}

func describeAnswer(r *rpc.Response) string {
	if r.Error != nil {
		return fmt.Sprintf("%d %s", r.Status, r.Error.Code)
	}
	return fmt.Sprintf("%d", r.Status)
}

// shapeOf returns v with the values of server-generated fields replaced by their type.
func shapeOf(v any, key string) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = shapeOf(e, k)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = shapeOf(e, key)
		}
		return out
	}
	if slices.Contains(serverGenerated, key) {
		return fmt.Sprintf("<%T>", v)
	}
	return v
}

func cloneParams(p url.Values) url.Values {
	out := make(url.Values, len(p))
	for k, v := range p {
		out[k] = slices.Clone(v)
	}
	return out
}

// sendRaw sends params exactly as given, without the client completing or signing them:
// query in the URL and form as a POST body (a GET without a body when form is nil). It
// records and counts like send.
func (s *session) sendRaw(ctx context.Context, r *request, query, form url.Values) (*rpc.Response, error) {
	if !s.canMutate(r.op) {
		s.rep.skip(r.op.Action, r.phase, "mutating operation on a non-loopback endpoint (AllowMutations not set)")
		return nil, nil
	}
	all := url.Values{}
	for k, v := range query {
		all[k] = v
	}
	for k, v := range form {
		all[k] = v
	}
	if s.opts.DryRun {
		s.rep.plan(&request{op: r.op, phase: r.phase, name: r.name, params: all, method: r.method})
		return nil, nil
	}
	if err := s.limiter.wait(ctx); err != nil {
		return nil, err
	}
	c := s.clients[r.op.Product]
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("conformance: endpoint %q: %w", c.Endpoint, err)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	u.RawQuery = rpc.EncodeForm(query)
	method, body := http.MethodGet, io.Reader(nil)
	if form != nil {
		method, body = http.MethodPost, strings.NewReader(rpc.EncodeForm(form))
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("conformance: %w", err)
	}
	if form != nil {
		req.Header.Set("Content-Type", rpc.FormContentType)
	}
	hr, err := c.HTTP.Do(req) // the session's client: its timeout, no redirects
	s.counted(r.phase)
	s.answered(err == nil || ctx.Err() != nil)
	var data []byte
	if err == nil {
		defer hr.Body.Close()
		limit := c.MaxBody
		if limit <= 0 {
			limit = rpc.DefaultMaxBody
		}
		data, err = io.ReadAll(io.LimitReader(hr.Body, limit+1))
		if err == nil && int64(len(data)) > limit {
			err = fmt.Errorf("response body more than %d bytes: %w", limit, rpc.ErrTooLarge)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !r.silent {
			s.rep.violation(Violation{
				Operation: r.op.Action, Phase: r.phase, Check: CheckTransport, Case: r.name,
				Message: "the request failed at the transport level", Got: err.Error(), Want: "an HTTP answer",
				Request: rpc.Redacted(all), Method: method, Seed: s.opts.Seed,
			})
		}
		return nil, nil
	}
	resp := &rpc.Response{Status: hr.StatusCode, Header: hr.Header, Body: data, Params: all}
	var ok bool
	if resp.Format, ok = rpc.FormatOf(hr.Header.Get("Content-Type")); !ok {
		resp.Format, _ = rpc.ParseFormat(all.Get(rpc.ParamFormat), rpc.DefaultFormat())
	}
	if resp.Status/100 != 2 {
		e, err := rpc.DecodeError(resp.Format, data)
		resp.ErrorDecode = err
		var be *rpc.BodyError
		if err == nil || errors.As(err, &be) && be.Partial {
			resp.Error = &e
		}
	}
	s.track(r.op, resp)
	return resp, nil
}

// Package emulator is the reference endpoint for Alibaba Cloud's RPC-style Elastic IP APIs:
// a stateful, contract-enforcing server for all eleven operations of the spec, with
// signature v1.0, JSON and XML, fault injection and persistent state.
//
// Typical usage, in-process:
//
//	srv, err := emulator.New(emulator.Options{})
//	if err != nil {
//		return err
//	}
//	ts := httptest.NewServer(srv)
//	defer ts.Close()
//	// point an SDK at ts.URL with AccessKeyId "testid" and secret "testsecret"
//
// Every parameter is judged by the spec's oracle; every error code, status and message comes
// from the spec. The emulator answers ambiguous requests (where the documents disagree) the
// way the newest document says, which is success.
package emulator

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
)

// Options configure a Server. The zero value is the documented default: the default world,
// the documents' example key testid/testsecret, authentication on.
type Options struct {
	// World is the account's world; nil means DefaultWorld().
	World *World
	// Keys maps AccessKeyId to AccessKeySecret; nil means the spec's example key.
	Keys map[string]string
	// NoAuth switches signature checking off, for emulator-style use.
	NoAuth bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxBody caps a request body; 0 means 1 MiB.
	MaxBody int64
	// Log receives one line per request; nil means no log.
	Log io.Writer
	// StatePath, when set, is loaded at New (if it exists), and every change an answer
	// acknowledges is written to it before the answer is sent (SaveState says how).
	StatePath string
	// MaxNonces caps how many recent SignatureNonces are remembered; 0 means 1,000,000.
	MaxNonces int
}

// DefaultMaxBody is the request body limit when Options.MaxBody is 0.
const DefaultMaxBody = 1 << 20

// Server is the emulator; it is an http.Handler safe for concurrent use.
type Server struct {
	opts     Options
	spec     *spec.Spec
	keys     map[string]string
	format   rpc.Format
	mu       sync.Mutex
	st       *state
	gen      uint64 // changes made to st; guarded by mu
	saver    saver
	nonces   *nonceCache
	faults   *faultTable
	handlers map[string]handler
	logMu    sync.Mutex
}

type handler func(*state, *call) (any, *apiError)

// New returns a server. With Options.StatePath naming an existing file, the state is loaded
// from it; a corrupt state file is an error, never silently replaced.
func New(opts Options) (*Server, error) {
	s := &Server{opts: opts, spec: spec.Default()}
	s.saver.cond.L = &s.saver.mu
	if s.opts.Now == nil {
		s.opts.Now = time.Now
	}
	if s.opts.MaxBody <= 0 {
		s.opts.MaxBody = DefaultMaxBody
	}
	s.keys = opts.Keys
	if s.keys == nil {
		sig := s.spec.Signature
		s.keys = map[string]string{sig.ExampleAccessKeyID: sig.ExampleAccessKeySecret}
	}
	s.format, _ = rpc.ParseFormat(s.spec.DefaultFormat, rpc.JSON)
	window := time.Duration(s.spec.Signature.NonceWindowSeconds) * time.Second
	s.nonces = newNonceCache(window, opts.MaxNonces)
	s.faults = &faultTable{}
	s.handlers = map[string]handler{
		"AllocateEipAddress":             (*state).allocateEipAddress,
		"AssociateEipAddress":            (*state).associateEipAddress,
		"UnassociateEipAddress":          (*state).unassociateEipAddress,
		"ModifyEipAddressAttribute":      (*state).modifyEipAddressAttribute,
		"DescribeEipAddresses":           (*state).describeEipAddresses,
		"ReleaseEipAddress":              (*state).releaseEipAddress,
		"DescribeEipGatewayInfo":         (*state).describeEipGatewayInfo,
		"DescribeEipMonitorData":         (*state).describeEipMonitorData,
		"OpenPublicIpAddressPoolService": (*state).openService,
		"OpenVpcIpamService":             (*state).openService,
		"AllocatePublicIpAddress":        (*state).allocatePublicIpAddress,
	}
	for _, op := range s.spec.Operations {
		if s.handlers[op.Action] == nil {
			return nil, fmt.Errorf("emulator: the spec's operation %s has no handler", op.Action)
		}
	}
	for action := range s.handlers {
		if s.spec.Operation(action) == nil {
			return nil, fmt.Errorf("emulator: handler %s is not an operation of the spec", action)
		}
	}
	w := DefaultWorld()
	if opts.World != nil {
		w = *opts.World
	}
	if err := w.Validate(); err != nil {
		return nil, fmt.Errorf("emulator: world: %w", err)
	}
	s.st = newState(w)
	if opts.StatePath != "" {
		removeStaleTemps(opts.StatePath)
		st, err := loadState(opts.StatePath)
		switch {
		case errors.Is(err, errNoState):
		case err != nil:
			return nil, err
		default:
			s.st = st
		}
	}
	return s, nil
}

// World returns a copy of the world the server runs with.
func (s *Server) World() World {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.st.World
	w.Regions = slices.Clone(w.Regions)
	w.Instances = slices.Clone(w.Instances)
	w.NetworkInterfaces = slices.Clone(w.NetworkInterfaces)
	w.ResourceGroups = slices.Clone(w.ResourceGroups)
	w.PublicIPAddressPools = slices.Clone(w.PublicIPAddressPools)
	return w
}

// Keys returns the AccessKeyIds the server accepts (secrets are not returned).
func (s *Server) Keys() []string {
	ids := make([]string, 0, len(s.keys))
	for id := range s.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// ServeHTTP answers RPC requests on "/" and the control channel under ControlPath.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, ControlPath) {
		s.control(w, r)
		return
	}
	start := time.Now()
	reqID := s.requestID()
	defer func() {
		// A panic is a bug of the emulator; answer instead of dropping the connection, and
		// say so in the log. The robustness tests require that this never happens.
		if p := recover(); p != nil {
			e := s.protocolError(spec.ErrUnavailable, "")
			rpc.WriteError(w, s.format, e.Status, rpc.ErrorBody{RequestId: reqID, HostId: s.hostID(nil), Code: e.Code, Message: e.Message})
			s.logf("PANIC %v (request %s)", p, reqID)
		}
	}()
	params, perr := rpc.ReadParams(r, s.opts.MaxBody)
	format := s.format
	formatParam := ""
	if params != nil {
		formatParam = params.Get("Format")
	} else if q, err := url.ParseQuery(r.URL.RawQuery); err == nil {
		formatParam = q.Get("Format") // the body was refused; answer in the format the query asks
	}
	if f, ok := rpc.ParseFormat(formatParam, s.format); ok {
		format = f
	}
	var (
		op   *spec.Operation
		body any
		aerr *apiError
	)
	switch {
	case perr != nil:
		aerr = s.protocolError(spec.ErrInvalidParameter, perr.Error())
	case r.URL.Path != "/" || (r.Method != http.MethodGet && r.Method != http.MethodPost):
		aerr = s.protocolError(spec.ErrUnknownAction, r.Method+" "+r.URL.Path)
	default:
		op, body, aerr = s.handle(r, params, reqID)
	}
	status := http.StatusOK
	code := ""
	if aerr != nil {
		status, code = aerr.Status, aerr.Code
		rpc.WriteError(w, format, aerr.Status, rpc.ErrorBody{
			RequestId: reqID, HostId: s.hostID(op), Code: aerr.Code, Message: aerr.Message,
			Recommend: s.recommend(op, aerr.Code),
		})
	} else if err := rpc.WriteSuccess(w, format, op.XMLRoot(), op.SuccessSchema().Value, body); err != nil {
		status, code = http.StatusInternalServerError, "encode: "+err.Error()
	}
	action := "-"
	if op != nil {
		action = op.Action
	} else if params != nil && params.Get("Action") != "" {
		action = params.Get("Action")
	}
	s.logf("%s %d %s %s", action, status, orDash(code), time.Since(start).Round(time.Microsecond))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Log == nil {
		return
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	fmt.Fprintf(s.opts.Log, format+"\n", args...)
}

func (s *Server) requestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.requestID()
}

// recommend is the troubleshooting link the gateway puts in Recommend.
func (s *Server) recommend(op *spec.Operation, code string) string {
	q := url.Values{"q": {code}}
	if op != nil {
		q.Set("product", op.Product)
	}
	return "https://api.aliyun.com/troubleshoot?" + q.Encode()
}

func (s *Server) hostID(op *spec.Operation) string {
	name := s.spec.Products[0].Name
	if op != nil {
		name = op.Product
	}
	p, _ := s.spec.Product(name)
	return p.Endpoint
}

// protocolError builds the error of a protocol rule (x-rpc.errors), filling %s with detail.
func (s *Server) protocolError(id, detail string) *apiError {
	e, ok := s.spec.ProtocolError(id)
	if !ok {
		panic("emulator: spec has no protocol error " + id)
	}
	msg := e.Message
	if strings.Contains(msg, "%s") {
		msg = strings.Replace(msg, "%s", detail, 1)
	} else if detail != "" {
		msg += " (" + detail + ")"
	}
	return &apiError{Status: e.Status, Code: e.Code, Message: msg}
}

// handle runs one RPC request through the gateway's checks, in the order the real gateway
// applies them: the common parameters, then authentication, then injected faults, then the
// operation's own parameters, then its state.
func (s *Server) handle(r *http.Request, params url.Values, reqID string) (*spec.Operation, any, *apiError) {
	now := s.opts.Now()
	v := s.spec.Evaluate(params, spec.Options{Auth: !s.opts.NoAuth})
	op := s.spec.Operation(params.Get("Action"))
	if op == nil {
		return nil, nil, s.verdictError(nil, v, true)
	}
	if e := s.verdictError(op, v, true); e != nil {
		return op, nil, e
	}
	if !s.opts.NoAuth {
		if e := s.authenticate(r.Method, params, now); e != nil {
			return op, nil, e
		}
	}
	if f := s.faults.take(op.Action); f != nil {
		if f.Latency.Duration > 0 {
			t := time.NewTimer(f.Latency.Duration)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
			}
		}
		if f.Code != "" {
			return op, nil, errorFor(op, spec.ErrorRef{Status: f.Status, Code: f.Code})
		}
	}
	if e := s.verdictError(op, v, false); e != nil {
		return op, nil, e
	}
	s.mu.Lock()
	body, e := s.handlers[op.Action](s.st, &call{op: op, params: params, now: now, reqID: reqID})
	gen := uint64(0)
	if e == nil && op.Mutates && s.opts.StatePath != "" {
		s.gen++
		gen = s.gen
	}
	s.mu.Unlock()
	if gen > 0 {
		// The change is acknowledged only once it is in the state file: a crash after the
		// answer never loses it.
		if err := s.commit(gen); err != nil {
			s.logf("%s: %v", op.Action, err)
			return op, nil, s.protocolError(spec.ErrUnavailable, "the change could not be saved")
		}
	}
	return op, body, e
}

// verdictError returns the error for a rejected verdict: with common true, only for rules on
// the common parameters (Action, Version, signature parameters), else for any rule. Among
// the broken rules it answers with the first whose mapping is documented, else the first.
func (s *Server) verdictError(op *spec.Operation, v spec.Verdict, common bool) *apiError {
	if v.Outcome != spec.Reject {
		return nil
	}
	if op == nil {
		e := v.Errors[0]
		detail := params0(v)
		return errorFor(nil, e.Ref(), detail)
	}
	var pick *spec.Rule
	for _, f := range v.Findings {
		if f.Result != spec.Violated {
			continue
		}
		rule := op.Rule(f.Rule)
		if rule == nil || (common && !s.isCommonRule(op, rule)) {
			continue
		}
		if pick == nil || (pick.Mapping != spec.Documented && rule.Mapping == spec.Documented) {
			pick = rule
		}
	}
	if pick == nil {
		return nil
	}
	return errorFor(op, pick.Error, pick.Params[0])
}

func params0(v spec.Verdict) string {
	if len(v.Findings) == 0 {
		return ""
	}
	p, _, _ := strings.Cut(v.Findings[0].Rule, ".")
	return p
}

func (s *Server) isCommonRule(op *spec.Operation, r *spec.Rule) bool {
	for _, name := range r.Params {
		if p := op.Parameter(name); p == nil || !p.Common {
			return false
		}
	}
	return true
}

// authenticate checks, in order: the timestamp's age, the access key, the signature and the
// nonce.
func (s *Server) authenticate(method string, params url.Values, now time.Time) *apiError {
	sig := s.spec.Signature
	ts, ok := spec.ParseTime(sig.TimestampLayout, params.Get("Timestamp"))
	if !ok {
		return s.protocolError(spec.ErrTimestampFormat, "")
	}
	window := time.Duration(sig.TimestampWindowSeconds) * time.Second
	if d := now.Sub(ts); d > window || d < -window {
		return s.protocolError(spec.ErrTimestampExpired, "")
	}
	secret, ok := s.keys[params.Get("AccessKeyId")]
	if !ok {
		return s.protocolError(spec.ErrUnknownAccessKey, "")
	}
	if ok, sts := rpc.Verify(method, params, secret); !ok {
		return s.protocolError(spec.ErrSignatureMismatch, sts)
	}
	if !s.nonces.add(params.Get("SignatureNonce"), now) {
		return s.protocolError(spec.ErrNonceReused, "")
	}
	return nil
}

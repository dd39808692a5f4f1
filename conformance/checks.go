package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// Checks made on every response.
const (
	CheckTransport = "transport"  // the request got an HTTP answer
	CheckNo5xx     = "no-5xx"     // no 5xx unless the spec maps the case to one
	CheckStatus    = "status"     // status and Code as the oracle requires
	CheckErrorBody = "error-body" // error bodies carry RequestId, Code, Message (HostId, Recommend: warnings)
	CheckSchema    = "schema"     // success bodies validate against the response schema
	CheckFormat    = "format"     // the body is in the requested Format with a matching content type
	CheckRequestID = "request-id" // every response carries a RequestId
)

// ResponseChecks lists the checks made on every response.
var ResponseChecks = []string{CheckTransport, CheckNo5xx, CheckStatus, CheckErrorBody, CheckSchema, CheckFormat, CheckRequestID}

// judge applies every response check to resp, with v the oracle's verdict for the request.
// It returns whether every check passed.
func (s *session) judge(r *request, resp *rpc.Response, v spec.Verdict) bool {
	ok := true
	op := r.op
	fail := func(check, msg, got, want string) {
		ok = false
		s.fail(r, resp, check, msg, got, want, "")
	}
	code := ""
	if resp.Error != nil {
		code = resp.Error.Code
	}

	// Format: the body must be in the format asked for (either, where the documents disagree
	// on the default), with a matching content type.
	asked, explicit := rpc.ParseFormat(r.params.Get(rpc.ParamFormat), rpc.DefaultFormat())
	ct := resp.Header.Get("Content-Type")
	got, known := rpc.FormatOf(ct)
	switch {
	case !known:
		fail(CheckFormat, "the response's Content-Type names no format", fmt.Sprintf("Content-Type %q", ct), "application/json or application/xml")
	case explicit && got != asked:
		fail(CheckFormat, "the response is not in the Format the request asked for", string(got)+" ("+ct+")", string(asked))
	default:
		s.pass(r, CheckFormat)
	}

	// No 5xx unless the spec maps the case to one.
	if resp.Status >= 500 && !v.Allows(resp.Status, code) {
		fail(CheckNo5xx, "the endpoint answered with a server error", fmt.Sprintf("%d %s", resp.Status, code), v.String())
	} else {
		s.pass(r, CheckNo5xx)
	}

	// Status and Code against the oracle.
	statusCheck := CheckStatus
	if r.statusCheck != "" {
		statusCheck = r.statusCheck
	}
	if resp.Status < 500 {
		j := v.Judge(resp.Status, code, s.opts.Strict)
		switch {
		case j.OK && j.Ambiguous:
			s.ambiguous(r, statusCheck, j.Reason)
		case j.OK:
			s.pass(r, statusCheck)
		case r.allowState && v.Outcome != spec.Reject && isStateError(op, resp.Status, code):
			s.pass(r, statusCheck) // valid parameters, refused on state the phase does not control
		default:
			fail(statusCheck, "the answer is not what the contract requires for these parameters",
				fmt.Sprintf("%d %s", resp.Status, orNone(code)), v.String())
		}
	}

	if resp.Status >= 200 && resp.Status < 300 {
		// The success body: RequestId, schema.
		schema := op.SuccessSchema().Value
		// resp.Format is what the Content-Type names, else what was asked for: a Content-Type
		// that names no format is the format check's violation, not a reason to misread.
		data, err := resp.SuccessJSON(schema)
		id := ""
		if err == nil {
			id, err = requestID(data)
		}
		if err != nil {
			if _, _, why := resp.Success(schema); why != nil {
				err = why // DecodeSuccess says what is wrong in the body's own terms
			}
			fail(CheckSchema, "the success body does not decode", err.Error(), "a "+string(resp.Format)+" body of the response schema")
			return false
		}
		if id == "" {
			fail(CheckRequestID, "the success body has no RequestId", "no RequestId", "a RequestId")
		} else {
			s.pass(r, CheckRequestID)
		}
		if err := s.validateResponse(op, resp.Status, data); err != nil {
			fail(CheckSchema, "the success body does not match the response schema", err.Error(), "the schema of "+op.Action+"'s 200 response")
		} else {
			s.pass(r, CheckSchema)
		}
		return ok
	}

	// The error body.
	if resp.Error == nil {
		why := "unreadable"
		if resp.ErrorDecode != nil {
			why = resp.ErrorDecode.Error()
		}
		fail(CheckErrorBody, "the error body does not decode", why, "RequestId, Code and Message")
		fail(CheckRequestID, "the error body has no readable RequestId", "no RequestId", "a RequestId")
		return false
	}
	e := resp.Error
	var missing []string
	for _, f := range []struct{ name, value string }{{"RequestId", e.RequestId}, {"Code", e.Code}, {"Message", e.Message}} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		fail(CheckErrorBody, "the error body lacks required fields", "missing "+strings.Join(missing, ", "), "RequestId, Code and Message")
	} else {
		s.pass(r, CheckErrorBody)
	}
	var soft []string
	for _, f := range []struct{ name, value string }{{"HostId", e.HostId}, {"Recommend", e.Recommend}} {
		if f.value == "" {
			soft = append(soft, f.name)
		}
	}
	if len(soft) > 0 {
		s.warn(r, resp, CheckErrorBody, "the error body lacks optional fields the gateway sends", "missing "+strings.Join(soft, ", "), "HostId and Recommend")
	}
	if e.RequestId == "" {
		fail(CheckRequestID, "the error body has no RequestId", "no RequestId", "a RequestId")
	} else {
		s.pass(r, CheckRequestID)
	}
	return ok
}

// requestID reads a JSON body's top-level RequestId ("" when absent or not a string); the
// rest of the body is checked but not decoded (the schema check decodes it).
func requestID(data []byte) (string, error) {
	var head struct{ RequestId json.RawMessage }
	if err := json.Unmarshal(data, &head); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return "", nil // not an object: the schema check says so
		}
		return "", err
	}
	var id string
	if len(head.RequestId) > 0 && head.RequestId[0] == '"' {
		json.Unmarshal(head.RequestId, &id)
	}
	return id, nil
}

func orNone(code string) string {
	if code == "" {
		return "(no code)"
	}
	return code
}

// isStateError reports whether (status, code) is the error of one of op's state rules.
func isStateError(op *spec.Operation, status int, code string) bool {
	for _, r := range op.StateRules {
		if r.Error != nil && r.Error.Status == status && r.Error.Code == code {
			return true
		}
	}
	return false
}

// validateResponse validates a success body, as JSON, with openapi3filter.ValidateResponse;
// XML bodies are validated in their decoded (JSON) form against the same schema.
func (s *session) validateResponse(op *spec.Operation, status int, data []byte) error {
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: s.validationRoute(op),
		Status:                 status,
		Header:                 http.Header{"Content-Type": {"application/json"}},
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(data)
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// validationRoute is op's route for openapi3filter, made once per operation and run (it is
// only read).
func (s *session) validationRoute(op *spec.Operation) *openapi3filter.RequestValidationInput {
	s.routesMu.Lock()
	defer s.routesMu.Unlock()
	if in, ok := s.routes[op]; ok {
		return in
	}
	p, o := op.OpenAPI()
	doc := s.spec.OpenAPI()
	req, _ := http.NewRequest(http.MethodGet, path.Clean("/"+p), nil)
	in := &openapi3filter.RequestValidationInput{
		Request: req,
		Route:   &routers.Route{Spec: doc, Path: p, PathItem: doc.Paths.Value(p), Method: http.MethodGet, Operation: o},
	}
	if s.routes == nil {
		s.routes = map[*spec.Operation]*openapi3filter.RequestValidationInput{}
	}
	s.routes[op] = in
	return in
}

// fail records a violation of check by the response to r.
func (s *session) fail(r *request, resp *rpc.Response, check, msg, got, want, diff string) {
	if r.silent {
		return
	}
	s.rep.violation(s.violationOf(r, resp, check, msg, got, want, diff))
}

func (s *session) warn(r *request, resp *rpc.Response, check, msg, got, want string) {
	if r.silent {
		return
	}
	v := s.violationOf(r, resp, check, msg, got, want, "")
	v.Severity = SeverityWarning
	s.rep.violation(v)
}

func (s *session) violationOf(r *request, resp *rpc.Response, check, msg, got, want, diff string) Violation {
	v := Violation{
		Operation: r.op.Action, Phase: r.phase, Check: check, Case: r.name, Severity: SeverityError,
		Message: msg, Got: got, Want: want, Diff: diff, Method: methodOf(r.method),
		Request: rpc.Redacted(r.params), Seed: s.opts.Seed, Counterexample: r.counter,
	}
	if resp != nil {
		v.Status = resp.Status
		v.Body = excerpt(resp.Body)
		if resp.Params != nil {
			v.Request = rpc.Redacted(resp.Params)
		}
	}
	return v
}

func (s *session) pass(r *request, check string) {
	if r.silent {
		return
	}
	s.rep.count(r.op.Action, r.phase, check, resultPass)
}

func (s *session) ambiguous(r *request, check, why string) {
	if r.silent {
		return
	}
	s.rep.count(r.op.Action, r.phase, check, resultAmbiguous)
}

// excerpt keeps the start of a body for reports.
func excerpt(b []byte) string {
	const max = 1024
	b = bytes.TrimSpace(b)
	if len(b) > max {
		return string(b[:max]) + fmt.Sprintf("…(%d bytes)", len(b))
	}
	return string(b)
}

// selected reports whether (op, phase, check) is selected by Only and Skip. Empty parts of
// the argument mean "any": selected("", "boundaries", "") asks about the phase as a whole.
func (s *session) selected(op, phase, check string) bool {
	keys := []string{op, phase, check}
	match := func(sel string) bool { return selectorMatches(sel, keys) }
	if len(s.opts.Only) > 0 && !slices.ContainsFunc(s.opts.Only, match) {
		return false
	}
	for _, sel := range s.opts.Skip {
		if selectorMatches(sel, keys) && selectorCovers(sel, keys) {
			return false
		}
	}
	return true
}

// selectorMatches reports whether a selector could select something within keys (parts of
// keys that are "" match anything).
func selectorMatches(sel string, keys []string) bool {
	parts := strings.Split(sel, "/")
	if len(parts) == 1 {
		// One word: an operation, a phase or a check.
		w := parts[0]
		return w == "*" || keys[0] == w || keys[1] == w || keys[2] == w ||
			(keys[0] == "" && isOperation(w)) || (keys[1] == "" && slices.Contains(Phases, w)) || (keys[2] == "" && !isOperation(w) && !slices.Contains(Phases, w))
	}
	for i, p := range parts {
		if i < len(keys) && p != "*" && keys[i] != "" && keys[i] != p {
			return false
		}
	}
	return true
}

// selectorCovers reports whether a selector names everything in keys (used by Skip, which
// must not skip a whole phase because one check of it is skipped).
func selectorCovers(sel string, keys []string) bool {
	parts := strings.Split(sel, "/")
	if len(parts) == 1 {
		w := parts[0]
		return w == "*" || keys[0] == w || keys[1] == w || (keys[2] != "" && keys[2] == w)
	}
	for i, p := range parts {
		if p != "*" && keys[i] == "" {
			return false
		}
	}
	return true
}

func isOperation(name string) bool { return spec.Default().Operation(name) != nil }

// ValidSelector checks the shape of an Only or Skip selector, as Check does; the CLI uses it
// to tell a mistyped --only from a failed run.
func ValidSelector(sel string) error { return validSelector(sel) }

// validSelector checks an Only/Skip selector's shape.
func validSelector(sel string) error {
	parts := strings.Split(sel, "/")
	if sel == "" || len(parts) > 3 {
		return fmt.Errorf("conformance: selector %q: want OP, PHASE, CHECK, OP/PHASE or OP/PHASE/CHECK", sel)
	}
	if len(parts) > 1 && parts[0] != "*" && !isOperation(parts[0]) {
		return fmt.Errorf("conformance: selector %q: %q is not an operation", sel, parts[0])
	}
	if len(parts) >= 2 && parts[1] != "*" && !slices.Contains(Phases, parts[1]) {
		return fmt.Errorf("conformance: selector %q: %q is not a phase (%s)", sel, parts[1], strings.Join(Phases, ", "))
	}
	return nil
}

package fuzz

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
)

// Check judges an endpoint's answer to one request against the contract and returns nil, or
// an error saying which request, what the endpoint answered and what the contract wants.
// params are the request's parameters as sent (Action and Version included); auth says
// whether the request was signed for an endpoint that authenticates (spec.Options.Auth);
// status, contentType and body are the answer.
//
// The spec's verdict for params decides:
//
//   - accept: a 2xx, or an error of one of the operation's state rules (the oracle cannot
//     see the endpoint's state: the AllocationId may name no EIP, the quota may be used up);
//   - reject: an error the verdict allows, matched exactly where the documents name the code
//     and any 4xx where the spec infers it (spec.Verdict.Judge, not strict);
//   - either (the documents disagree): anything but a 5xx.
//
// Whatever the verdict: no 5xx unless the verdict allows that error; every error's (status,
// Code) one the spec knows for the operation (its error table, its rules' and state rules'
// errors, the protocol errors); error bodies that decode (rpc.DecodeError: RequestId, Code and
// Message strings); success bodies that decode in their format, with the operation's XML
// root, and validate against its response schema; with Format=JSON or Format=XML, the answer
// in that format when its Content-Type names one.
//
//	rec := httptest.NewRecorder()
//	handler.ServeHTTP(rec, req)
//	if err := fuzz.Check(params, false, rec.Code, rec.Header().Get("Content-Type"), rec.Body.Bytes()); err != nil {
//		t.Fatal(err)
//	}
func Check(params url.Values, auth bool, status int, contentType string, body []byte) error {
	s := spec.Default()
	v := s.Evaluate(params, spec.Options{Auth: auth})
	o := oracleFor(s.Operation(params.Get(rpc.ParamAction)))
	return o.check(params, v, status, contentType, body)
}

// oracle is what Check needs of one operation, computed once.
type oracle struct {
	op     *spec.Operation // nil for an unknown action
	schema *openapi3.Schema
	known  map[spec.ErrorRef]bool // every (status, Code) the spec knows for the operation
	state  map[spec.ErrorRef]bool // the errors of its state rules
	states string                 // the state errors, for messages
}

var oracles sync.Map // *spec.Operation (nil too) -> *oracle

func oracleFor(op *spec.Operation) *oracle {
	if o, ok := oracles.Load(op); ok {
		return o.(*oracle)
	}
	o := &oracle{op: op, known: map[spec.ErrorRef]bool{}, state: map[spec.ErrorRef]bool{}}
	for _, e := range spec.Default().ProtocolErrors {
		o.known[e.Ref()] = true
	}
	if op != nil {
		o.schema = op.SuccessSchema().Value
		for _, e := range op.Errors {
			o.known[e.Ref()] = true
		}
		for _, r := range op.Rules {
			o.known[r.Error] = true
			for _, a := range r.AlsoAccept {
				o.known[spec.ErrorRef{Status: a.Status, Code: a.Code}] = true
			}
		}
		var states []string
		for _, r := range op.StateRules {
			if r.Error != nil {
				o.known[*r.Error] = true
				o.state[*r.Error] = true
				states = append(states, r.Error.String())
			}
		}
		slices.Sort(states)
		o.states = strings.Join(slices.Compact(states), ", ")
	}
	got, _ := oracles.LoadOrStore(op, o)
	return got.(*oracle)
}

func (o *oracle) check(params url.Values, v spec.Verdict, status int, contentType string, body []byte) error {
	fail := func(format string, args ...any) error {
		return &violation{params: params, status: status, body: body, msg: fmt.Sprintf(format, args...)}
	}
	requested, _ := rpc.ParseFormat(params.Get(rpc.ParamFormat), rpc.DefaultFormat())
	format := requested
	if f, ok := rpc.FormatOf(contentType); ok {
		format = f
		if want := params.Get(rpc.ParamFormat); (want == string(rpc.JSON) || want == string(rpc.XML)) && f != rpc.Format(want) {
			return fail("the answer is not in the requested format: got Content-Type %q, want %s", contentType, want)
		}
	}

	if status >= 200 && status < 300 {
		if j := v.Judge(status, "", false); !j.OK {
			return fail("the endpoint accepted what the contract rejects: %s", j.Reason)
		}
		root, value, err := rpc.DecodeSuccess(format, body, o.schema)
		if err != nil {
			return fail("the success body does not decode: got %v, want a %s body of the operation's response schema", err, format)
		}
		if format == rpc.XML && root != o.op.XMLRoot() {
			return fail("the success body's XML root: got <%s>, want <%s>", root, o.op.XMLRoot())
		}
		if err := o.schema.VisitJSON(value); err != nil {
			return fail("the success body does not match the response schema: got %s, want a body the schema of %s validates", oneLine(err.Error()), o.op.Action)
		}
		return nil
	}

	e, derr := rpc.DecodeError(format, body)
	ref := spec.ErrorRef{Status: status, Code: e.Code}
	switch {
	case status >= 500 && !v.Allows(status, e.Code):
		return fail("a 5xx the contract does not map this request to: got %s, want %s", answer(status, e.Code), v)
	case derr != nil:
		return fail("the error body is malformed: got %v, want a %s error body with RequestId, Code and Message strings", derr, format)
	case !o.known[ref]:
		return fail("an error the spec does not know for %s: got %s, want one of its error table, its rules' and state rules' errors or the protocol errors", o.name(), answer(status, e.Code))
	}
	switch v.Outcome {
	case spec.Accept:
		if !o.state[ref] {
			msg := fmt.Sprintf("the endpoint rejected what the contract accepts: got %s, want a 2xx", answer(status, e.Code))
			if o.states != "" {
				msg += " or a state error (" + o.states + ")"
			}
			if !slices.ContainsFunc(spec.Default().ProtocolErrors, func(p spec.ProtocolError) bool { return p.Ref() == ref }) {
				return fail("%s", msg)
			}
			return fail("%s; a protocol error: does the endpoint authenticate while the requests are unsigned, or the reverse?", msg)
		}
	case spec.Reject:
		if j := v.Judge(status, e.Code, false); !j.OK {
			return fail("the endpoint's error is not the one the contract wants: %s", j.Reason)
		}
	}
	return nil
}

func (o *oracle) name() string {
	if o.op == nil {
		return "an unknown action"
	}
	return o.op.Action
}

func answer(status int, code string) string {
	if code == "" {
		return strconv.Itoa(status) + " (no Code)"
	}
	return strconv.Itoa(status) + " " + code
}

// violation is Check's error: the request, what is wrong, and the answer.
type violation struct {
	params url.Values
	status int
	body   []byte
	msg    string
}

func (e *violation) Error() string {
	var b strings.Builder
	b.WriteString(describe(e.params))
	b.WriteString(": ")
	b.WriteString(e.msg)
	fmt.Fprintf(&b, "\n  answer: %d %s", e.status, excerpt(e.body, 600))
	return b.String()
}

// describe renders a request for messages: the action, then every parameter but Action,
// Version and the signature parameters (the secret is never a parameter), sorted.
func describe(p url.Values) string {
	op := spec.Default().Operation(p.Get(rpc.ParamAction))
	var b strings.Builder
	if a := p.Get(rpc.ParamAction); a != "" {
		b.WriteString(a)
	} else {
		b.WriteString("(no Action)")
	}
	b.WriteString(" [")
	n := 0
	for _, k := range slices.Sorted(maps.Keys(p)) {
		if k == rpc.ParamAction || (k == rpc.ParamVersion && op != nil && p.Get(k) == op.Version) || isSignatureParam(k) {
			continue
		}
		for _, v := range p[k] {
			if n > 0 {
				b.WriteByte(' ')
			}
			n++
			b.WriteString(quoteIfNeeded(k, 40))
			b.WriteByte('=')
			b.WriteString(quoteIfNeeded(v, 80))
		}
	}
	b.WriteByte(']')
	return b.String()
}

// isSignatureParam reports whether name is one of the signature parameters: the spec's common
// parameters that only apply when the endpoint authenticates.
func isSignatureParam(name string) bool {
	return signatureParams()[name]
}

var signatureParams = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for _, op := range spec.Default().Operations {
		for _, p := range op.Parameters {
			if p.Common && p.Auth {
				m[p.Name] = true
			}
		}
	}
	return m
})

// quoteIfNeeded returns s as it is when it is short plain text, else Go-quoted and clipped.
func quoteIfNeeded(s string, max int) string {
	plain := s != ""
	for _, r := range s {
		if r <= ' ' || r == '"' || r == '\\' || r == '=' || r == ']' || r >= utf8.RuneSelf && !strconv.IsPrint(r) || r == utf8.RuneError {
			plain = false
			break
		}
	}
	if plain && len(s) <= max {
		return s
	}
	if len(s) > max {
		return strconv.Quote(s[:max]) + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return strconv.Quote(s)
}

// excerpt renders an answer's body for messages: as it is when it is printable UTF-8, else
// Go-quoted (control characters cannot repaint a terminal), clipped to max bytes.
func excerpt(body []byte, max int) string {
	if len(body) == 0 {
		return "(empty body)"
	}
	clipped, more := body, ""
	if len(body) > max {
		clipped, more = body[:max], fmt.Sprintf("...(%d bytes)", len(body))
	}
	s := string(clipped)
	for _, r := range s {
		if r < ' ' && r != '\n' && r != '\t' || r == utf8.RuneError || r == 0x7f {
			return strconv.Quote(s) + more
		}
	}
	return oneLine(s) + more
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

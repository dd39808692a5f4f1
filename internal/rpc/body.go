package rpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/eipconform/eipconform/internal/rpcxml"
	"github.com/eipconform/eipconform/spec"
)

// Format is a response format, the Format parameter's value.
type Format string

// The formats of the spec's x-rpc.formats.
const (
	JSON Format = "JSON"
	XML  Format = "XML"
)

// Content types of the two formats, as the RPC gateway sends them.
const (
	JSONContentType = "application/json;charset=utf-8"
	XMLContentType  = "application/xml;charset=utf-8"
)

// ContentType returns the Content-Type of a body in f: XMLContentType for XML,
// JSONContentType for anything else.
//
//	w.Header().Set("Content-Type", rpc.XML.ContentType())
func (f Format) ContentType() string {
	if f == XML {
		return XMLContentType
	}
	return JSONContentType
}

// ParseFormat reads a Format parameter case-insensitively ("xml" is XML, as 004's own example
// sends it). An empty value gives def and ok; an unknown one gives def and !ok (no seed says
// whether an endpoint rejects it).
//
//	format, ok := rpc.ParseFormat(params.Get(rpc.ParamFormat), rpc.DefaultFormat())
func ParseFormat(s string, def Format) (f Format, ok bool) {
	switch {
	case s == "":
		return def, true
	case strings.EqualFold(s, string(JSON)):
		return JSON, true
	case strings.EqualFold(s, string(XML)):
		return XML, true
	}
	return def, false
}

// DefaultFormat returns the spec's default format (x-rpc.defaultFormat).
//
//	format, _ := rpc.ParseFormat(params.Get(rpc.ParamFormat), rpc.DefaultFormat())
func DefaultFormat() Format {
	f, _ := ParseFormat(spec.Default().DefaultFormat, JSON)
	return f
}

// FormatOf reads the format a Content-Type names: JSON for application/json and +json, XML
// for application/xml, text/xml and +xml (parameters such as charset aside); false for
// anything else.
//
//	f, ok := rpc.FormatOf(resp.Header.Get("Content-Type"))
func FormatOf(contentType string) (Format, bool) {
	switch contentType { // what this package writes, without parsing
	case JSONContentType:
		return JSON, true
	case XMLContentType:
		return XML, true
	}
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", false
	}
	switch {
	case mediaType == "application/json" || strings.HasSuffix(mediaType, "+json"):
		return JSON, true
	case mediaType == "application/xml" || mediaType == "text/xml" || strings.HasSuffix(mediaType, "+xml"):
		return XML, true
	}
	return "", false
}

// ErrorBody is the body of every failed call (the spec's components/schemas/Error). Its field
// names are the wire names; in XML its root element is the Error schema's xml.name.
//
//	rpc.WriteError(w, rpc.JSON, 400, rpc.ErrorBody{RequestId: id, Code: pe.Code, Message: pe.Message})
type ErrorBody struct {
	RequestId string `json:"RequestId" xml:"RequestId"`
	HostId    string `json:"HostId" xml:"HostId"`
	Code      string `json:"Code" xml:"Code"`
	Message   string `json:"Message" xml:"Message"`
	Recommend string `json:"Recommend" xml:"Recommend"`
}

// errorFields are ErrorBody's wire names in order, with a pointer to each field.
func (e *ErrorBody) fields() []struct {
	name string
	ptr  *string
} {
	return []struct {
		name string
		ptr  *string
	}{
		{"RequestId", &e.RequestId}, {"HostId", &e.HostId}, {"Code", &e.Code},
		{"Message", &e.Message}, {"Recommend", &e.Recommend},
	}
}

// errorSchema returns the spec's Error schema.
func errorSchema() *openapi3.Schema {
	return spec.Default().OpenAPI().Components.Schemas["Error"].Value
}

// ErrorRoot returns the XML root element of error bodies: the spec's Error schema's xml.name.
//
//	root := rpc.ErrorRoot() // "Error"
func ErrorRoot() string {
	if x := errorSchema().XML; x != nil {
		return x.Name
	}
	return ""
}

// ProtocolErrorBody returns the HTTP status and the error body of one of the spec's protocol
// errors (id is one of the spec.Err... constants), its message formatted with args when given
// (the missing-parameter message takes the parameter's name, the signature-mismatch message
// the server's string to sign). ok is false when the spec has no such error.
//
//	status, body, ok := rpc.ProtocolErrorBody(spec.ErrMissingParameter, requestID, "RegionId")
func ProtocolErrorBody(id, requestID string, args ...any) (status int, body ErrorBody, ok bool) {
	pe, ok := spec.Default().ProtocolError(id)
	if !ok {
		return 0, ErrorBody{}, false
	}
	msg := pe.Message
	if len(args) > 0 {
		msg = fmt.Sprintf(msg, args...)
	}
	return pe.Status, ErrorBody{RequestId: requestID, Code: pe.Code, Message: msg}, true
}

// WriteSuccess writes a 200 response with body in format (anything but XML is JSON). JSON is
// body as encoding/json marshals it (without HTML escaping); XML is the same value rendered by rpcxml.Encode under
// root, lists as repeated elements named by schema (the operation's success schema). body is
// any JSON-marshalable value: a typed struct with json tags, or a JSON-shaped value. Numbers
// are carried exactly from the JSON to the XML.
//
// Nothing is written when the body cannot be encoded: the error says why, and the caller can
// still answer with an error.
//
//	err := rpc.WriteSuccess(w, format, op.XMLRoot(), op.SuccessSchema().Value, resp)
func WriteSuccess(w http.ResponseWriter, format Format, root string, schema *openapi3.Schema, body any) error {
	data, err := marshalJSON(body)
	if err != nil {
		return fmt.Errorf("rpc: WriteSuccess: %w", err)
	}
	if format == XML {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("rpc: WriteSuccess: %w", err)
		}
		if data, err = rpcxml.Encode(root, v, schema); err != nil {
			return fmt.Errorf("rpc: WriteSuccess: %w", err)
		}
	}
	return write(w, format, http.StatusOK, data)
}

// WriteError writes status and the error body e in format (anything but XML is JSON); in XML
// under ErrorRoot(), every field present (empty ones as empty elements), as in JSON.
//
//	rpc.WriteError(w, format, status, body)
func WriteError(w http.ResponseWriter, format Format, status int, e ErrorBody) {
	data, _ := marshalJSON(e) // strings always marshal
	if format == XML {
		m := map[string]any{}
		for _, f := range e.fields() {
			m[f.name] = *f.ptr
		}
		if x, err := rpcxml.Encode(ErrorRoot(), m, errorSchema()); err == nil {
			data = x
		} else {
			format = JSON // only if the spec's Error schema lost its xml.name
		}
	}
	_ = write(w, format, status, data)
}

func write(w http.ResponseWriter, format Format, status int, data []byte) error {
	h := w.Header()
	h.Set("Content-Type", format.ContentType())
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	_, err := w.Write(data)
	return err
}

// marshalJSON is json.Marshal without HTML escaping (<, > and & stay as they are, as the
// gateway sends them).
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// BodyError is what is wrong with a response body: DecodeError's and DecodeSuccess' error.
//
//	var be *rpc.BodyError
//	if errors.As(err, &be) && be.Partial {
//		// the ErrorBody returned with err holds the fields that could be read
//	}
type BodyError struct {
	Format Format
	// Problems lists every deviation found, e.g. `Code is the number 400; want a string`.
	Problems []string
	// Partial is true when the body was parsed and only some fields deviate: the value
	// returned with the error holds what could be read.
	Partial bool
}

// Error lists the problems, e.g. `rpc: JSON body: Code is the number 400; want a string`.
func (e *BodyError) Error() string {
	return fmt.Sprintf("rpc: %s body: %s", e.Format, strings.Join(e.Problems, "; "))
}

// DecodeError decodes an error body of either format (anything but XML is read as JSON),
// tolerating hostile content: it never panics, refuses bodies over DefaultMaxBody, and reads
// what it can. A field that is not a string is a problem but still read: a number as its
// decimal text ({"Code": 400} gives Code "400", where the Go SDK panics), a boolean as true or
// false. Missing required fields (the Error schema's required list), null or structured
// values, a JSON body that is not an object and an XML root other than ErrorRoot() are
// problems too.
//
// The error, when not nil, is a *BodyError listing every problem; with Partial set, the
// returned ErrorBody holds the fields that were read.
//
//	e, err := rpc.DecodeError(resp.Format, resp.Body)
func DecodeError(format Format, body []byte) (ErrorBody, error) {
	be := &BodyError{Format: format}
	if len(body) > DefaultMaxBody {
		be.Problems = []string{fmt.Sprintf("%d bytes, more than the %d allowed", len(body), DefaultMaxBody)}
		return ErrorBody{}, be
	}
	var m map[string]any
	if format == XML {
		root, v, err := rpcxml.Decode(body, errorSchema(), rpcxml.Options{MaxBytes: DefaultMaxBody})
		if err != nil {
			be.Problems = []string{err.Error()}
			return ErrorBody{}, be
		}
		if want := ErrorRoot(); root != want {
			be.Problems = append(be.Problems, fmt.Sprintf("root element <%s>; want <%s>", root, want))
		}
		m, _ = v.(map[string]any) // the Error schema is an object
	} else {
		be.Format = JSON
		v, err := decodeJSON(body, true)
		if err != nil {
			be.Problems = []string{err.Error()}
			return ErrorBody{}, be
		}
		var ok bool
		if m, ok = v.(map[string]any); !ok {
			be.Problems = []string{fmt.Sprintf("a JSON %s; want an object", jsonKind(v))}
			return ErrorBody{}, be
		}
	}
	required := map[string]bool{}
	for _, name := range errorSchema().Required {
		required[name] = true
	}
	var out ErrorBody
	for _, f := range out.fields() {
		raw, present := m[f.name]
		if !present {
			if required[f.name] {
				be.Problems = append(be.Problems, "missing "+f.name)
			}
			continue
		}
		s, problem := stringField(raw)
		*f.ptr = s
		if problem != "" {
			be.Problems = append(be.Problems, f.name+" is "+problem+"; want a string")
		}
	}
	if len(be.Problems) > 0 {
		be.Partial = true
		return out, be
	}
	return out, nil
}

// stringField reads a field that should be a string, saying what it is when it is not.
func stringField(v any) (s, problem string) {
	switch v := v.(type) {
	case string:
		return v, ""
	case json.Number:
		return decimal(v), "the number " + clip(string(v))
	case bool:
		return strconv.FormatBool(v), "the boolean " + strconv.FormatBool(v)
	case nil:
		return "", "null"
	}
	return "", "a JSON " + jsonKind(v)
}

// decimal returns a JSON number as decimal text: integers as they are, 4e2 as 400, other
// numbers as strconv formats them without an exponent; the literal when it is out of range.
func decimal(n json.Number) string {
	if _, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return string(n)
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) || math.Abs(f) >= 1e21 {
		return string(n)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number, float64:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// decodeJSON decodes one JSON value and nothing after it; numbers are json.Number when
// useNumber, else float64.
func decodeJSON(body []byte, useNumber bool) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if useNumber {
		dec.UseNumber()
	}
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty body; want a JSON object")
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, errors.New("JSON ends early (truncated)")
		}
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("data after the JSON value at byte offset %d", dec.InputOffset())
	}
	return v, nil
}

// DecodeSuccess decodes a success body of either format (anything but XML is read as JSON)
// into the JSON shape schema describes, for validation with [openapi3.Schema.VisitJSON]: XML
// through rpcxml.Decode (root is the root element's name), JSON through encoding/json (root is
// ""). Bodies over DefaultMaxBody are refused.
//
// Numbers are float64 in both formats, as rpcxml.Decode and VisitJSON have them, so the two
// formats of one response decode to equal values. Integers beyond 2^53 lose precision the same
// way in both; compare the raw body where such values must be exact.
//
//	root, v, err := rpc.DecodeSuccess(resp.Format, resp.Body, op.SuccessSchema().Value)
func DecodeSuccess(format Format, body []byte, schema *openapi3.Schema) (root string, value any, err error) {
	if len(body) > DefaultMaxBody {
		return "", nil, &BodyError{Format: format, Problems: []string{fmt.Sprintf("%d bytes, more than the %d allowed", len(body), DefaultMaxBody)}}
	}
	if format == XML {
		root, value, err = rpcxml.Decode(body, schema, rpcxml.Options{MaxBytes: DefaultMaxBody})
		if err != nil {
			return "", nil, &BodyError{Format: XML, Problems: []string{err.Error()}}
		}
		return root, value, nil
	}
	value, err = decodeJSON(body, false)
	if err != nil {
		return "", nil, &BodyError{Format: JSON, Problems: []string{err.Error()}}
	}
	return "", value, nil
}

package rpc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// DefaultMaxBody is the body size limit used when a limit is zero or negative: ReadParams'
// maxBody, Client.MaxBody, and the bodies DecodeError and DecodeSuccess accept.
const DefaultMaxBody = 4 << 20 // 4 MiB

// ErrTooLarge is wrapped by the errors for a request or response body over its limit.
//
//	if errors.Is(err, rpc.ErrTooLarge) { ... }
var ErrTooLarge = errors.New("body larger than the limit")

// FormContentType is the Content-Type of a POST request's form body.
const FormContentType = "application/x-www-form-urlencoded"

// ParamsError is why ReadParams could not read a request's parameters; a server answers it
// with Status.
//
//	var pe *rpc.ParamsError
//	if errors.As(err, &pe) {
//		http.Error(w, pe.Error(), pe.Status)
//	}
type ParamsError struct {
	// Status is the HTTP status to answer with: 400 for malformed encoding or a body that
	// could not be read, 413 for a body over the limit.
	Status int
	// Where is "query" or "body".
	Where string
	// Param names the parameter whose name or value is malformed (its name decoded when the
	// name itself is well-formed, else as sent); "" when the problem is not one parameter.
	Param string
	// Err is the cause: a url.EscapeError, ErrTooLarge, or the error reading the body.
	Err error
}

// Error says where the parameters are malformed, e.g.
// `rpc: query: parameter "Name": malformed value: invalid URL escape "%zz"`.
func (e *ParamsError) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("rpc: %s: parameter %q: %v", e.Where, e.Param, e.Err)
	}
	return fmt.Sprintf("rpc: %s: %v", e.Where, e.Err)
}

// Unwrap returns Err.
func (e *ParamsError) Unwrap() error { return e.Err }

// MaxParams is the most parameters ReadParams reads from one request, query and body
// together; the operations take a few dozen at most.
const MaxParams = 1000

// ReadParams returns a request's parameters: the URL query and, for a POST whose Content-Type
// is application/x-www-form-urlencoded (any parameters, such as charset, allowed), the form
// body. A name in the body replaces the same name in the query, as the Go SDK's signer
// assumes (it signs query and form parameters as one map, form last). Other bodies (a GET's,
// another content type's) are not read.
//
// Both parts are split on & only (a ; is part of a value) and decoded with '+' as a space and
// %XX escapes; a malformed escape is a *ParamsError naming the parameter. The body is read
// through a limit of maxBody bytes (DefaultMaxBody when maxBody <= 0): a larger body is a
// *ParamsError with Status 413 wrapping ErrTooLarge. More than MaxParams parameters, query
// and body together, are a *ParamsError with Status 400: a megabyte of "a&a&..." would
// otherwise cost a map of half a million entries.
//
//	params, err := rpc.ReadParams(r, 1<<20)
func ReadParams(r *http.Request, maxBody int64) (url.Values, error) {
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	budget := MaxParams
	params, err := parseParams(r.URL.RawQuery, "query", &budget)
	if err != nil {
		return nil, err
	}
	if r.Method != http.MethodPost || r.Body == nil || !isForm(r.Header.Get("Content-Type")) {
		return params, nil
	}
	var buf bytes.Buffer
	if n := r.ContentLength; n > 0 && n <= maxBody {
		buf.Grow(int(n) + 1)
	}
	_, err = buf.ReadFrom(io.LimitReader(r.Body, maxBody+1))
	data := buf.Bytes()
	if err != nil {
		return nil, &ParamsError{Status: http.StatusBadRequest, Where: "body", Err: err}
	}
	if int64(len(data)) > maxBody {
		return nil, &ParamsError{Status: http.StatusRequestEntityTooLarge, Where: "body",
			Err: fmt.Errorf("more than %d bytes: %w", maxBody, ErrTooLarge)}
	}
	form, err := parseParams(string(data), "body", &budget)
	if err != nil {
		return nil, err
	}
	for k, v := range form {
		params[k] = v
	}
	return params, nil
}

// isForm reports whether a Content-Type is a form body.
func isForm(contentType string) bool {
	if contentType == FormContentType {
		return true // the common case, without parsing
	}
	mediaType, _, err := mime.ParseMediaType(contentType)
	return err == nil && mediaType == FormContentType
}

// parseParams decodes name=value pairs separated by &.
func parseParams(s, where string, budget *int) (url.Values, error) {
	out := url.Values{}
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if pair == "" {
			continue
		}
		if *budget--; *budget < 0 {
			return nil, &ParamsError{Status: http.StatusBadRequest, Where: where, Err: fmt.Errorf("more than %d parameters", MaxParams)}
		}
		rawName, rawValue, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			return nil, &ParamsError{Status: http.StatusBadRequest, Where: where, Param: rawName, Err: fmt.Errorf("malformed name: %w", err)}
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return nil, &ParamsError{Status: http.StatusBadRequest, Where: where, Param: name, Err: fmt.Errorf("malformed value: %w", err)}
		}
		out[name] = append(out[name], value)
	}
	return out, nil
}

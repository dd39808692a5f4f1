// Package rpcxml decodes Alibaba Cloud RPC XML response bodies into the JSON-shaped values
// their OpenAPI response schemas describe, so that one schema validates both formats.
//
// The RPC gateway renders the same response in JSON and XML. XML has no types and no lists,
// so the schema says how to read each element: a property of type array collects its
// repeated child elements (<EipAddress>..</EipAddress><EipAddress>..</EipAddress> under
// <EipAddresses> becomes {"EipAddresses": {"EipAddress": [{..}, {..}]}}), integers and numbers
// become float64, booleans true or false, strings the element's text. The result is what
// encoding/json produces for the equivalent JSON body, so it can be passed to
// [openapi3.Schema.VisitJSON].
//
// Typical usage:
//
//	root, value, err := rpcxml.Decode(body, op.SuccessSchema().Value, rpcxml.Options{})
//	if err != nil {
//		return err
//	}
//	if root != op.XMLRoot() {
//		return fmt.Errorf("root element <%s>, want <%s>", root, op.XMLRoot())
//	}
//	return op.SuccessSchema().Value.VisitJSON(value)
package rpcxml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
)

// Limits used when the corresponding Options field is zero or negative.
const (
	DefaultMaxBytes = 1 << 20 // 1 MiB
	DefaultMaxDepth = 64
)

// Options bounds what Decode accepts. The zero value uses the defaults.
//
//	rpcxml.Decode(body, schema, rpcxml.Options{MaxBytes: 64 << 10, MaxDepth: 16})
type Options struct {
	// MaxBytes is the largest input accepted, in bytes; 0 means DefaultMaxBytes.
	MaxBytes int64
	// MaxDepth is the deepest element nesting accepted (the root element is depth 1);
	// 0 means DefaultMaxDepth.
	MaxDepth int
}

func (o Options) limits() (maxBytes int64, maxDepth int) {
	maxBytes, maxDepth = o.MaxBytes, o.MaxDepth
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	return maxBytes, maxDepth
}

// Error is a decoding failure: where in the input it happened and what was expected there.
//
//	var e *rpcxml.Error
//	if errors.As(err, &e) {
//		fmt.Println(e.Path) // "/DescribeEipAddressesResponse/PageNumber"
//	}
type Error struct {
	// Path is the element path, e.g. "/DescribeEipAddressesResponse/EipAddresses/EipAddress[2]/Bandwidth"
	// (list items are numbered from 1); it is empty when the problem is outside the root element.
	Path string
	// Line is the 1-based line of the input at which the problem was found, or 0 if unknown.
	Line int
	// Msg says what was found and what was expected.
	Msg string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("rpcxml: ")
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Decode decodes an RPC XML response body guided by the response's JSON schema. It returns the
// root element's name and the body as encoding/json would decode the equivalent JSON:
// map[string]any for objects, []any for lists, and string, float64 or bool for scalars.
//
// The schema decides how each element is read; $ref schemas must be resolved (SchemaRef.Value
// set), as openapi3.Loader does, and the properties of allOf parts are merged:
//
//   - object: the child elements, by property name (or the property schema's xml.name).
//   - array property: every child element named like its items (the items' xml.name, else
//     the property name) is one item, so a single child is a one-element list. An array with
//     xml.wrapped is one element holding the items. An object whose only property is such an
//     array (Alibaba's list wrapper, <EipAddresses>) always carries it, [] when empty.
//   - integer and number: a JSON number, as float64; integer must be integral.
//   - boolean: true or false.
//   - string: the element's text, exactly; an empty element is "".
//   - no schema (elements the schema does not list): the text if the element has no child
//     elements, else a map of its children, repeated children as a list. Never an error.
//
// Attributes are ignored unless a property has xml.attribute. The root element's name is not
// checked against the schema's xml.name: the caller compares it.
//
// Decode never panics. Input larger than opts.MaxBytes, nested deeper than opts.MaxDepth, not
// UTF-8, not well-formed, with a DOCTYPE, or not matching the schema (text where a number is
// wanted, a second element for a single value, child elements in a string) is an *Error
// naming the element path and what was expected.
func Decode(data []byte, schema *openapi3.Schema, opts Options) (root string, value any, err error) {
	maxBytes, maxDepth := opts.limits()
	if int64(len(data)) > maxBytes {
		return "", nil, &Error{Msg: fmt.Sprintf("input is %d bytes, more than the %d allowed (Options.MaxBytes)", len(data), maxBytes)}
	}
	if !utf8.Valid(data) {
		off := invalidUTF8(data)
		return "", nil, &Error{Line: 1 + bytes.Count(data[:off], []byte("\n")), Msg: fmt.Sprintf("invalid UTF-8 at byte offset %d; want UTF-8 text", off)}
	}
	d := &decoder{
		dec:      xml.NewDecoder(io.LimitReader(bytes.NewReader(data), maxBytes)),
		maxDepth: maxDepth,
		shapes:   map[*openapi3.Schema]*shape{},
	}
	d.dec.CharsetReader = func(label string, _ io.Reader) (io.Reader, error) {
		return nil, &charsetError{label}
	}
	start, err := d.prolog()
	if err != nil {
		return "", nil, err
	}
	value, err = d.element(start, d.shapeOf(schema), "/"+start.Name.Local, 1)
	if err != nil {
		return "", nil, err
	}
	if err := d.epilog(); err != nil {
		return "", nil, err
	}
	return start.Name.Local, value, nil
}

func invalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(data)
}

// charsetError rejects an XML declaration naming an encoding other than UTF-8.
type charsetError struct{ label string }

func (e *charsetError) Error() string { return "encoding " + e.label + " is not supported" }

type decoder struct {
	dec      *xml.Decoder
	maxDepth int
	shapes   map[*openapi3.Schema]*shape
}

// fail returns an *Error at the decoder's current line.
func (d *decoder) fail(path, format string, args ...any) error {
	line, _ := d.dec.InputPos()
	return &Error{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// token reads the next token, turning the decoder's errors into *Error. inside names the
// element being read ("" outside the root).
func (d *decoder) token(path, inside string) (xml.Token, error) {
	tok, err := d.dec.Token()
	if err == nil {
		return tok, nil
	}
	var se *xml.SyntaxError
	var ce *charsetError
	switch {
	case errors.As(err, &ce):
		return nil, d.fail(path, "the XML declaration names encoding %q; want UTF-8", clip(ce.label))
	case errors.As(err, &se) && se.Msg == "unexpected EOF", errors.Is(err, io.ErrUnexpectedEOF):
		if inside == "" {
			return nil, d.fail(path, "input ends early; want a complete XML document")
		}
		return nil, d.fail(path, "input ends inside <%s>; want </%s>", inside, inside)
	case errors.As(err, &se):
		return nil, &Error{Path: path, Line: se.Line, Msg: "not well-formed XML: " + se.Msg}
	case errors.Is(err, io.EOF):
		return nil, err
	}
	return nil, d.fail(path, "not well-formed XML: %v", err)
}

// prolog reads up to the root element: only an XML declaration, processing instructions,
// comments and white space may come first.
func (d *decoder) prolog() (xml.StartElement, error) {
	for {
		tok, err := d.token("", "")
		if errors.Is(err, io.EOF) {
			return xml.StartElement{}, d.fail("", "no root element; want an RPC response such as <ActionResponse>...</ActionResponse>")
		}
		if err != nil {
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.CharData:
			if !isSpace(t) {
				return xml.StartElement{}, d.fail("", "got text %s before the root element; want an element", quote(string(t)))
			}
		case xml.Directive:
			return xml.StartElement{}, d.fail("", "got a directive <!%s>; want no DOCTYPE or other declaration", clip(string(t)))
		}
	}
}

// epilog checks that only comments, processing instructions and white space follow the root.
func (d *decoder) epilog() error {
	for {
		tok, err := d.token("", "")
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return d.fail("", "got element <%s> after the root element; want one root element", t.Name.Local)
		case xml.CharData:
			if !isSpace(t) {
				return d.fail("", "got text %s after the root element; want the end of input", quote(string(t)))
			}
		case xml.Directive:
			return d.fail("", "got a directive <!%s> after the root element; want the end of input", clip(string(t)))
		}
	}
}

// element decodes the content of start, up to and including its end tag, as sh says.
func (d *decoder) element(start xml.StartElement, sh *shape, path string, depth int) (any, error) {
	if depth > d.maxDepth {
		return nil, d.fail(path, "elements nested %d deep, more than the %d allowed (Options.MaxDepth)", depth, d.maxDepth)
	}
	switch sh.kind {
	case kindObject:
		return d.object(start, sh, path, depth)
	case kindArray:
		return d.array(start, sh, path, depth)
	case kindUnknown:
		return d.unknown(start, path, depth)
	}
	text, err := d.text(start, sh, path)
	if err != nil {
		return nil, err
	}
	return d.scalar(text, sh, path)
}

// scalar converts an element's or attribute's text to the value sh describes.
func (d *decoder) scalar(text string, sh *shape, path string) (any, error) {
	switch sh.kind {
	case kindString:
		return text, nil
	case kindBoolean:
		switch strings.Trim(text, xmlSpace) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, d.fail(path, "got %s, want true or false (schema type boolean)", quote(text))
	case kindInteger, kindNumber:
		s := strings.Trim(text, xmlSpace)
		if !isJSONNumber(s) {
			return nil, d.fail(path, "got %s, want a number (schema type %s)", quote(text), sh.kind)
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, d.fail(path, "got %s, want a number a float64 can hold (schema type %s)", quote(text), sh.kind)
		}
		if sh.kind == kindInteger && f != math.Trunc(f) {
			return nil, d.fail(path, "got %s, want an integer (schema type integer)", quote(text))
		}
		return f, nil
	}
	return nil, d.fail(path, "schema kind %s is not a scalar", sh.kind) // unreachable
}

// text reads a scalar element's text; child elements are an error.
func (d *decoder) text(start xml.StartElement, sh *shape, path string) (string, error) {
	var b strings.Builder
	for {
		tok, err := d.token(path, start.Name.Local)
		if err != nil {
			return "", d.eof(err, path, start)
		}
		switch t := tok.(type) {
		case xml.CharData:
			b.Write(t)
		case xml.StartElement:
			return "", d.fail(path, "got element <%s>; want text only (schema type %s)", t.Name.Local, sh.kind)
		case xml.EndElement:
			return b.String(), nil
		case xml.Directive:
			return "", d.fail(path, "got a directive <!%s>; want text", clip(string(t)))
		}
	}
}

// eof turns an io.EOF inside an element into an *Error.
func (d *decoder) eof(err error, path string, start xml.StartElement) error {
	if errors.Is(err, io.EOF) {
		return d.fail(path, "input ends inside <%s>; want </%s>", start.Name.Local, start.Name.Local)
	}
	return err
}

// object decodes an element whose schema is an object.
func (d *decoder) object(start xml.StartElement, sh *shape, path string, depth int) (any, error) {
	out := map[string]any{}
	for _, a := range start.Attr {
		b, ok := sh.attrs[a.Name.Local]
		if !ok {
			continue
		}
		if _, dup := out[b.prop]; dup {
			return nil, d.fail(path, "attribute %s appears twice; want one", a.Name.Local)
		}
		v, err := d.scalar(a.Value, b.shape, path+"/@"+a.Name.Local)
		if err != nil {
			return nil, err
		}
		out[b.prop] = v
	}
	counts := map[string]int{}
	for {
		tok, err := d.token(path, start.Name.Local)
		if err != nil {
			return nil, d.eof(err, path, start)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if sh.wrapper != "" {
				if _, ok := out[sh.wrapper]; !ok {
					out[sh.wrapper] = []any{}
				}
			}
			return out, nil
		case xml.CharData:
			if !isSpace(t) {
				return nil, d.fail(path, "got text %s; want child elements (schema type object)", quote(string(t)))
			}
		case xml.Directive:
			return nil, d.fail(path, "got a directive <!%s>; want child elements", clip(string(t)))
		case xml.StartElement:
			name := t.Name.Local
			b, known := sh.elems[name]
			switch {
			case known && b.item:
				counts[name]++
				v, err := d.element(t, b.shape, fmt.Sprintf("%s/%s[%d]", path, name, counts[name]), depth+1)
				if err != nil {
					return nil, err
				}
				list, _ := out[b.prop].([]any)
				out[b.prop] = append(list, v)
			case known || sh.additional != nil:
				if !known {
					b = binding{prop: name, shape: sh.additional}
				}
				if _, dup := out[b.prop]; dup {
					return nil, d.fail(path+"/"+name, "element <%s> appears twice; want at most one (schema type %s)", name, b.shape.kind)
				}
				v, err := d.element(t, b.shape, path+"/"+name, depth+1)
				if err != nil {
					return nil, err
				}
				out[b.prop] = v
			default:
				v, err := d.unknown(t, path+"/"+name, depth+1)
				if err != nil {
					return nil, err
				}
				addUnknown(out, name, v)
			}
		}
	}
}

// array decodes an element whose schema is an array (a wrapped list, or a list root): each
// child element is one item.
func (d *decoder) array(start xml.StartElement, sh *shape, path string, depth int) (any, error) {
	out := []any{}
	for {
		tok, err := d.token(path, start.Name.Local)
		if err != nil {
			return nil, d.eof(err, path, start)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return out, nil
		case xml.CharData:
			if !isSpace(t) {
				return nil, d.fail(path, "got text %s; want item elements (schema type array)", quote(string(t)))
			}
		case xml.Directive:
			return nil, d.fail(path, "got a directive <!%s>; want item elements", clip(string(t)))
		case xml.StartElement:
			if sh.itemName != "" && t.Name.Local != sh.itemName {
				return nil, d.fail(path, "got element <%s>; want <%s> items (schema type array)", t.Name.Local, sh.itemName)
			}
			v, err := d.element(t, sh.items, fmt.Sprintf("%s/%s[%d]", path, t.Name.Local, len(out)+1), depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	}
}

// unknown decodes an element the schema does not describe, best effort: its text if it has
// no child elements, else a map of its children, repeated children as a list.
func (d *decoder) unknown(start xml.StartElement, path string, depth int) (any, error) {
	if depth > d.maxDepth {
		return nil, d.fail(path, "elements nested %d deep, more than the %d allowed (Options.MaxDepth)", depth, d.maxDepth)
	}
	var text strings.Builder
	var children map[string]any
	for {
		tok, err := d.token(path, start.Name.Local)
		if err != nil {
			return nil, d.eof(err, path, start)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if children != nil {
				return children, nil
			}
			return text.String(), nil
		case xml.CharData:
			if children == nil {
				text.Write(t)
			}
		case xml.StartElement:
			if children == nil {
				children = map[string]any{}
			}
			v, err := d.unknown(t, path+"/"+t.Name.Local, depth+1)
			if err != nil {
				return nil, err
			}
			addUnknown(children, t.Name.Local, v)
		}
	}
}

// addUnknown stores an undescribed element's value, turning repeats into a list.
func addUnknown(m map[string]any, name string, v any) {
	switch old := m[name].(type) {
	case nil:
		m[name] = v
	case []any:
		m[name] = append(old, v)
	default:
		m[name] = []any{old, v}
	}
}

const xmlSpace = " \t\r\n"

func isSpace(b []byte) bool { return len(bytes.Trim(b, xmlSpace)) == 0 }

// quote quotes text for a message, shortened to keep messages readable.
func quote(s string) string { return strconv.Quote(clip(s)) }

func clip(s string) string {
	const limit = 40
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// isJSONNumber reports whether s is a number in JSON's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func isJSONNumber(s string) bool {
	i := 0
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

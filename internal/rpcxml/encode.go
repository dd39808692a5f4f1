package rpcxml

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
)

// Header is the XML declaration Encode writes before the root element.
const Header = `<?xml version="1.0" encoding="UTF-8"?>`

// Encode renders a JSON-shaped value as an RPC XML body under the root element root: the
// inverse of Decode. The value drives the structure and the schema names the elements:
//
//   - map[string]any: one child element per key, in sorted key order, named by the property's
//     xml.name (or the key); a property with xml.attribute is written as an attribute instead;
//     keys the schema does not list are elements named by the key.
//   - []any under an array property: one element per item, named like Decode expects them
//     (the items' xml.name, else the property name), directly inside the parent (Alibaba's
//     <EipAddresses><EipAddress/><EipAddress/></EipAddresses>); with xml.wrapped, one element
//     holding the items. A list the schema does not describe is written as repeated elements.
//   - string: the text, escaped (&, <, > and carriage returns as references); characters XML
//     1.0 cannot carry (NUL and other controls, invalid UTF-8) become U+FFFD, as encoding/xml does.
//   - float64, float32, json.Number, Go integers: the number as encoding/json writes it, so
//     integral values never use an exponent below 1e21 (32666910, not 3.266691e+07) and the
//     Go SDK's integer fields read them. NaN, infinities and a json.Number that is not a JSON
//     number are errors.
//   - bool: true or false. nil: an empty element.
//
// Encode does not validate value against the schema (validate it with
// [openapi3.Schema.VisitJSON] first); it only fails for what it cannot write: element names
// that are not ASCII XML names (letters, digits, '-', '.' and '_', starting with a letter or '_'),
// other Go types, a list directly inside a list, or nesting deeper than DefaultMaxDepth.
//
// Decode(Encode(root, v, s), s) returns root and v unchanged when v is what encoding/json
// decodes (numbers as float64), its strings are valid XML text, and it has no nil values, no
// empty lists outside a list wrapper and no one-item lists the schema does not describe
// (Decode reads those back as "", absent and a single value).
//
// Typical usage:
//
//	body, err := rpcxml.Encode(op.XMLRoot(), value, op.SuccessSchema().Value)
//	if err != nil {
//		return err
//	}
//	w.Header().Set("Content-Type", "application/xml;charset=utf-8")
//	w.Write(body)
func Encode(root string, value any, schema *openapi3.Schema) ([]byte, error) {
	e := &encoder{
		shapes: &decoder{shapes: map[*openapi3.Schema]*shape{}},
		props:  map[*shape]map[string]propOut{},
	}
	e.buf.WriteString(Header)
	sh := e.shapes.shapeOf(schema)
	path := "/" + root
	if list, ok := value.([]any); ok {
		// A list at the root is one element holding the items, as Decode reads an array schema.
		if err := e.open(root, path, nil); err != nil {
			return nil, err
		}
		if err := e.items(itemName(sh, root), list, itemsOf(sh), path, 2); err != nil {
			return nil, err
		}
		e.close(root)
		return e.buf.Bytes(), nil
	}
	if err := e.value(root, value, sh, path, 1, false); err != nil {
		return nil, err
	}
	return e.buf.Bytes(), nil
}

type encoder struct {
	buf    bytes.Buffer
	shapes *decoder // only its shape cache is used
	props  map[*shape]map[string]propOut
}

// propOut is how an object property is written.
type propOut struct {
	elem  string // element or attribute name
	shape *shape // the property's shape, or its items' shape when item is set
	item  bool   // the property is an unwrapped array: each item is an elem element
	attr  bool
}

// propsOf inverts an object shape's element and attribute bindings: property -> how to write it.
func (e *encoder) propsOf(sh *shape) map[string]propOut {
	if p, ok := e.props[sh]; ok {
		return p
	}
	p := map[string]propOut{}
	for _, elem := range slices.Sorted(maps.Keys(sh.elems)) {
		b := sh.elems[elem]
		if _, taken := p[b.prop]; !taken {
			p[b.prop] = propOut{elem: elem, shape: b.shape, item: b.item}
		}
	}
	for _, attr := range slices.Sorted(maps.Keys(sh.attrs)) {
		b := sh.attrs[attr]
		if _, taken := p[b.prop]; !taken {
			p[b.prop] = propOut{elem: attr, shape: b.shape, attr: true}
		}
	}
	e.props[sh] = p
	return p
}

func itemsOf(sh *shape) *shape {
	if sh.kind == kindArray && sh.items != nil {
		return sh.items
	}
	return unknownShape
}

func itemName(sh *shape, fallback string) string {
	if sh.kind == kindArray && sh.itemName != "" {
		return sh.itemName
	}
	return fallback
}

func (e *encoder) fail(path, format string, args ...any) error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// value writes v as the element name. A list the schema does not describe as an array is
// written as repeated name elements (inList forbids that for the items of a list).
func (e *encoder) value(name string, v any, sh *shape, path string, depth int, inList bool) error {
	if depth > DefaultMaxDepth {
		return e.fail(path, "value nested %d deep, more than the %d Decode accepts (DefaultMaxDepth)", depth, DefaultMaxDepth)
	}
	switch v := v.(type) {
	case map[string]any:
		if sh.kind != kindObject {
			sh = unknownShape
		}
		return e.object(name, v, sh, path, depth)
	case []any:
		if sh.kind == kindArray {
			if err := e.open(name, path, nil); err != nil {
				return err
			}
			if err := e.items(itemName(sh, name), v, itemsOf(sh), path, depth+1); err != nil {
				return err
			}
			e.close(name)
			return nil
		}
		if inList {
			return e.fail(path, "got a list inside a list; want an items schema of type array with xml.wrapped")
		}
		for i, item := range v {
			if err := e.value(name, item, sh, fmt.Sprintf("%s[%d]", path, i+1), depth, true); err != nil {
				return err
			}
		}
		return nil
	}
	text, err := e.scalar(v, path)
	if err != nil {
		return err
	}
	if err := e.open(name, path, nil); err != nil {
		return err
	}
	escapeText(&e.buf, text, false)
	e.close(name)
	return nil
}

// items writes each item of a list as an element called name.
func (e *encoder) items(name string, list []any, items *shape, path string, depth int) error {
	for i, item := range list {
		if err := e.value(name, item, items, fmt.Sprintf("%s/%s[%d]", path, name, i+1), depth, true); err != nil {
			return err
		}
	}
	return nil
}

// object writes an object: attributes first, then the child elements in sorted key order.
func (e *encoder) object(name string, m map[string]any, sh *shape, path string, depth int) error {
	keys := slices.Sorted(maps.Keys(m))
	var props map[string]propOut
	if sh.kind == kindObject {
		props = e.propsOf(sh)
	}
	var attrs []xmlAttr
	for _, k := range keys {
		p, ok := props[k]
		if !ok || !p.attr || m[k] == nil {
			continue
		}
		text, err := e.scalar(m[k], path+"/@"+p.elem)
		if err != nil {
			return err
		}
		attrs = append(attrs, xmlAttr{p.elem, text})
	}
	if err := e.open(name, path, attrs); err != nil {
		return err
	}
	for _, k := range keys {
		v := m[k]
		p, ok := props[k]
		switch {
		case ok && p.attr:
			continue
		case ok && p.item:
			if v == nil {
				continue // a null list has no items
			}
			list, isList := v.([]any)
			if !isList {
				list = []any{v} // a single value is a one-item list
			}
			if err := e.items(p.elem, list, p.shape, path, depth+1); err != nil {
				return err
			}
			continue
		case ok:
			if err := e.value(p.elem, v, p.shape, path+"/"+p.elem, depth+1, false); err != nil {
				return err
			}
		case sh.additional != nil:
			if err := e.value(k, v, sh.additional, path+"/"+k, depth+1, false); err != nil {
				return err
			}
		default:
			if err := e.value(k, v, unknownShape, path+"/"+k, depth+1, false); err != nil {
				return err
			}
		}
	}
	e.close(name)
	return nil
}

type xmlAttr struct{ name, value string }

// open writes a start tag after checking its name.
func (e *encoder) open(name, path string, attrs []xmlAttr) error {
	if !isXMLName(name) {
		return e.fail(path, "%s is not an XML element name; want ASCII letters, digits, '-', '.' and '_', starting with a letter or '_'", quote(name))
	}
	e.buf.WriteByte('<')
	e.buf.WriteString(name)
	for _, a := range attrs {
		if !isXMLName(a.name) {
			return e.fail(path, "%s is not an XML attribute name", quote(a.name))
		}
		e.buf.WriteByte(' ')
		e.buf.WriteString(a.name)
		e.buf.WriteString(`="`)
		escapeText(&e.buf, a.value, true)
		e.buf.WriteByte('"')
	}
	e.buf.WriteByte('>')
	return nil
}

func (e *encoder) close(name string) {
	e.buf.WriteString("</")
	e.buf.WriteString(name)
	e.buf.WriteByte('>')
}

// scalar returns the text of a scalar value.
func (e *encoder) scalar(v any, path string) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case json.Number:
		if !isJSONNumber(string(v)) {
			return "", e.fail(path, "json.Number %s is not a JSON number", quote(string(v)))
		}
		return string(v), nil
	case float64:
		return e.float(v, 64, path)
	case float32:
		return e.float(float64(v), 32, path)
	case int:
		return strconv.FormatInt(int64(v), 10), nil
	case int8:
		return strconv.FormatInt(int64(v), 10), nil
	case int16:
		return strconv.FormatInt(int64(v), 10), nil
	case int32:
		return strconv.FormatInt(int64(v), 10), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case uint:
		return strconv.FormatUint(uint64(v), 10), nil
	case uint8:
		return strconv.FormatUint(uint64(v), 10), nil
	case uint16:
		return strconv.FormatUint(uint64(v), 10), nil
	case uint32:
		return strconv.FormatUint(uint64(v), 10), nil
	case uint64:
		return strconv.FormatUint(v, 10), nil
	case map[string]any, []any:
		return "", e.fail(path, "got a %T; want a scalar here (an attribute)", v)
	}
	return "", e.fail(path, "got a %T; want a JSON-shaped value (map[string]any, []any, string, float64, json.Number, bool or nil)", v)
}

// float writes a number as encoding/json does.
func (e *encoder) float(f float64, bits int, path string) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", e.fail(path, "got %v; want a finite number", f)
	}
	var data []byte
	var err error
	if bits == 32 {
		data, err = json.Marshal(float32(f))
	} else {
		data, err = json.Marshal(f)
	}
	if err != nil {
		return "", e.fail(path, "number %v: %v", f, err) // unreachable: finite floats marshal
	}
	return string(data), nil
}

// escapeText writes s as XML character data (attr: as an attribute value in double quotes).
// Characters outside XML 1.0's range and invalid UTF-8 become U+FFFD.
func escapeText(b *bytes.Buffer, s string, attr bool) {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		if r == utf8.RuneError && n == 1 || !inXMLRange(r) {
			b.WriteRune(unicode.ReplacementChar)
			continue
		}
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '\r':
			b.WriteString("&#xD;")
		case '"':
			if attr {
				b.WriteString("&#34;")
			} else {
				b.WriteByte('"')
			}
		case '\n':
			if attr {
				b.WriteString("&#xA;")
			} else {
				b.WriteByte('\n')
			}
		case '\t':
			if attr {
				b.WriteString("&#x9;")
			} else {
				b.WriteByte('\t')
			}
		default:
			b.WriteRune(r)
		}
	}
}

// inXMLRange reports whether r is a character XML 1.0 allows.
func inXMLRange(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// isXMLName reports whether s is an ASCII XML name without a namespace prefix: letters, digits,
// '-', '.' and '_', starting with a letter or '_'. (XML allows more; Alibaba's names are ASCII,
// and staying within ASCII keeps every XML reader, encoding/xml included, in agreement.)
func isXMLName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && (c == '-' || c == '.' || '0' <= c && c <= '9'):
		default:
			return false
		}
	}
	return true
}

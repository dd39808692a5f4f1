package rpcxml

import (
	"maps"
	"slices"

	"github.com/getkin/kin-openapi/openapi3"
)

// kind is how an element is read.
type kind string

const (
	kindUnknown kind = "unknown" // not described by the schema: best effort
	kindObject  kind = "object"
	kindArray   kind = "array"
	kindString  kind = "string"
	kindInteger kind = "integer"
	kindNumber  kind = "number"
	kindBoolean kind = "boolean"
)

// shape is a schema flattened for decoding: allOf parts merged, refs followed, and the child
// element names of an object resolved to its properties.
type shape struct {
	kind kind

	// Objects.
	elems      map[string]binding // child element name -> property
	attrs      map[string]binding // attribute name -> property (xml.attribute)
	additional *shape             // additionalProperties schema, or nil
	// wrapper is the only property of an object when it is an unwrapped array (Alibaba's
	// list wrapper, <EipAddresses><EipAddress/>...</EipAddresses>): it is [] when no item is present.
	wrapper string

	// Arrays (wrapped, or at the root).
	items    *shape
	itemName string // required item element name, "" for any
}

// binding ties a child element or attribute to the object property it fills.
type binding struct {
	prop  string
	shape *shape
	item  bool // one item of the array property prop
}

var unknownShape = &shape{kind: kindUnknown}

// shapeOf returns the shape of s, computing it once per schema. Cyclic schemas are fine: a
// shape is registered before its children are computed, and recursion in the input is bounded
// by MaxDepth.
func (d *decoder) shapeOf(s *openapi3.Schema) *shape {
	if s == nil {
		return unknownShape
	}
	if sh, ok := d.shapes[s]; ok {
		return sh
	}
	parts := flatten(s)
	sh := &shape{kind: kindOf(parts)}
	d.shapes[s] = sh
	switch sh.kind {
	case kindObject:
		d.objectShape(sh, parts)
	case kindArray:
		items := firstItems(parts)
		sh.items = d.shapeOf(items)
		if items != nil && items.XML != nil {
			sh.itemName = items.XML.Name
		}
	}
	return sh
}

// objectShape fills in the element and attribute bindings of an object.
func (d *decoder) objectShape(sh *shape, parts []*openapi3.Schema) {
	sh.elems = map[string]binding{}
	sh.attrs = map[string]binding{}
	var names []string
	props := map[string]*openapi3.Schema{}
	for _, p := range parts {
		for _, name := range slices.Sorted(maps.Keys(p.Properties)) {
			ref := p.Properties[name]
			if _, seen := props[name]; seen || ref == nil {
				continue
			}
			props[name] = ref.Value
			names = append(names, name)
		}
		if sh.additional == nil && p.AdditionalProperties.Schema != nil {
			sh.additional = d.shapeOf(p.AdditionalProperties.Schema.Value)
		}
	}
	var unwrappedArrays int
	for _, name := range names {
		ps := props[name]
		psh := d.shapeOf(ps)
		var x *openapi3.XML
		if ps != nil {
			x = ps.XML
		}
		if x != nil && x.Attribute {
			if psh.kind != kindObject && psh.kind != kindArray {
				sh.attrs[xmlName(x, name)] = binding{prop: name, shape: psh}
			}
			continue
		}
		if psh.kind == kindArray && (x == nil || !x.Wrapped) {
			unwrappedArrays++
			elem := name
			if psh.itemName != "" {
				elem = psh.itemName
			}
			addBinding(sh.elems, elem, binding{prop: name, shape: psh.items, item: true})
			continue
		}
		addBinding(sh.elems, xmlName(x, name), binding{prop: name, shape: psh})
	}
	if len(names) == 1 && unwrappedArrays == 1 {
		sh.wrapper = names[0]
	}
}

// addBinding binds an element name to the first property (in sorted order) that claims it.
func addBinding(m map[string]binding, elem string, b binding) {
	if _, taken := m[elem]; !taken {
		m[elem] = b
	}
}

func xmlName(x *openapi3.XML, prop string) string {
	if x != nil && x.Name != "" {
		return x.Name
	}
	return prop
}

// flatten returns s followed by its allOf parts, depth first, each schema once.
func flatten(s *openapi3.Schema) []*openapi3.Schema {
	var out []*openapi3.Schema
	seen := map[*openapi3.Schema]bool{}
	var walk func(*openapi3.Schema)
	walk = func(s *openapi3.Schema) {
		if s == nil || seen[s] {
			return
		}
		seen[s] = true
		out = append(out, s)
		for _, ref := range s.AllOf {
			if ref != nil {
				walk(ref.Value)
			}
		}
	}
	walk(s)
	return out
}

// kindOf is the first type any part declares; an untyped schema with properties is an object.
func kindOf(parts []*openapi3.Schema) kind {
	for _, p := range parts {
		for _, t := range p.Type.Slice() {
			switch t {
			case "object", "array", "string", "integer", "number", "boolean":
				return kind(t)
			}
		}
	}
	for _, p := range parts {
		if len(p.Properties) > 0 || p.AdditionalProperties.Schema != nil {
			return kindObject
		}
		if p.Items != nil {
			return kindArray
		}
	}
	return kindUnknown
}

func firstItems(parts []*openapi3.Schema) *openapi3.Schema {
	for _, p := range parts {
		if p.Items != nil {
			return p.Items.Value
		}
	}
	return nil
}

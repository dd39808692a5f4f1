package spec

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
)

//go:embed eip.yaml
var embedded []byte

var (
	defaultOnce sync.Once
	defaultSpec *Spec
	defaultErr  error
)

// Default returns the embedded contract, loaded and validated once. It panics only if the
// embedded document is broken, which the package's tests rule out.
//
//	op := spec.Default().Operation("ReleaseEipAddress")
func Default() *Spec {
	defaultOnce.Do(func() { defaultSpec, defaultErr = Load(embedded) })
	if defaultErr != nil {
		panic("spec: embedded contract does not load: " + defaultErr.Error())
	}
	return defaultSpec
}

// Embedded returns the embedded document's YAML source.
func Embedded() []byte { return bytes.Clone(embedded) }

// LoadFile loads a contract from a file (YAML or JSON). Errors name the file and the place in
// it that is wrong.
func LoadFile(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	s, err := Load(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// maxDocument bounds the size of a document Load accepts.
const maxDocument = 16 << 20

// Load parses, validates and models a contract document. Every error names where in the
// document it is (line, or path of keys) and what was expected.
func Load(data []byte) (*Spec, error) {
	if len(data) > maxDocument {
		return nil, fmt.Errorf("spec: document is %d bytes, more than the %d allowed", len(data), maxDocument)
	}
	loader := openapi3.NewLoader()
	loader.IncludeOrigin = true
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("spec: not an OpenAPI document: %w", err)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("spec: invalid OpenAPI document: %w", err)
	}
	b := &builder{doc: doc}
	s, err := b.build()
	if err != nil {
		return nil, err
	}
	s.raw = bytes.Clone(data)
	return s, nil
}

// OpenAPI returns the underlying OpenAPI document. Callers must not modify it.
func (s *Spec) OpenAPI() *openapi3.T { return s.doc }

// JSON returns the document as indented JSON, for other OpenAPI tools.
func (s *Spec) JSON() ([]byte, error) { return json.MarshalIndent(s.doc, "", "  ") }

// Operation returns the operation for an action, or nil.
func (s *Spec) Operation(action string) *Operation { return s.byAction[action] }

// Product returns the named product.
func (s *Spec) Product(name string) (Product, bool) {
	for _, p := range s.Products {
		if p.Name == name {
			return p, true
		}
	}
	return Product{}, false
}

type builder struct {
	doc  *openapi3.T
	spec *Spec
}

// rpcExt is the typed form of x-rpc.
type rpcExt struct {
	Products             []Product       `json:"products"`
	Methods              []string        `json:"methods"`
	Formats              []string        `json:"formats"`
	DefaultFormat        string          `json:"defaultFormat"`
	CommonParameters     []string        `json:"commonParameters"`
	Signature            Signature       `json:"signature"`
	XMLErrorRoot         string          `json:"xmlErrorRoot"`
	XMLSuccessRootSuffix string          `json:"xmlSuccessRootSuffix"`
	Errors               []ProtocolError `json:"errors"`
	Ambiguities          []Ambiguity     `json:"ambiguities"`
}

// ruleExt is the typed form of one x-rules entry.
type ruleExt struct {
	ID         string        `json:"id"`
	Summary    string        `json:"summary"`
	When       []Condition   `json:"when"`
	Check      Check         `json:"check"`
	Error      ErrorRef      `json:"error"`
	Mapping    Mapping       `json:"mapping"`
	Source     string        `json:"source"`
	Quote      string        `json:"quote"`
	Note       string        `json:"note"`
	AlsoAccept []AltError    `json:"also-accept"`
	Variants   []RuleVariant `json:"variants"`
	Ambiguous  string        `json:"ambiguous"`
}

// decodeExt decodes extension name of exts into out, strictly: unknown fields are errors.
// It reports whether the extension was present.
func decodeExt(exts map[string]any, name, where string, out any) (bool, error) {
	v, ok := exts[name]
	if !ok {
		return false, nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return true, fmt.Errorf("spec: %s.%s: %v", where, name, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return true, fmt.Errorf("spec: %s.%s: %v", where, name, explainJSON(err, v))
	}
	return true, nil
}

// explainJSON turns a decoding error into "at [2].check: unknown field ..." where possible.
func explainJSON(err error, _ any) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("at %s: got %s, want %s", te.Field, te.Value, te.Type)
	}
	return err.Error()
}

func (b *builder) build() (*Spec, error) {
	s := &Spec{doc: b.doc, byAction: map[string]*Operation{}}
	b.spec = s
	var rpc rpcExt
	ok, err := decodeExt(b.doc.Extensions, "x-rpc", "document", &rpc)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("spec: document: x-rpc is missing; want the products, signature and protocol errors")
	}
	if len(rpc.Products) == 0 {
		return nil, errors.New("spec: document.x-rpc.products: empty; want at least one product")
	}
	s.Products = rpc.Products
	s.Signature = rpc.Signature
	s.Formats = rpc.Formats
	s.DefaultFormat = rpc.DefaultFormat
	s.CommonParameters = slices.Sorted(slices.Values(rpc.CommonParameters))
	s.ProtocolErrors = rpc.Errors
	sort.Slice(s.ProtocolErrors, func(i, j int) bool { return s.ProtocolErrors[i].ID < s.ProtocolErrors[j].ID })
	for i, e := range s.ProtocolErrors {
		if e.ID == "" || e.Code == "" || e.Status < 400 || e.Status > 599 {
			return nil, fmt.Errorf("spec: document.x-rpc.errors[%d] (%q): want an id, a code and a 4xx/5xx status, got status %d", i, e.ID, e.Status)
		}
		if err := checkMapping(e.Mapping); err != nil {
			return nil, fmt.Errorf("spec: document.x-rpc.errors[%s]: %v", e.ID, err)
		}
	}
	if _, ok := s.ProtocolError(ErrMissingParameter); !ok {
		return nil, errors.New("spec: document.x-rpc.errors: no " + ErrMissingParameter + " error; required parameters need one")
	}
	if _, ok := s.ProtocolError(ErrUnknownAction); !ok {
		return nil, errors.New("spec: document.x-rpc.errors: no " + ErrUnknownAction + " error")
	}
	s.Ambiguities = append(s.Ambiguities, rpc.Ambiguities...)

	for _, path := range b.doc.Paths.InMatchingOrder() {
		item := b.doc.Paths.Value(path)
		for method, o := range item.Operations() {
			if method != "GET" {
				return nil, fmt.Errorf("spec: paths.%s: method %s; every action is modelled as one get operation (POST carries the same parameters as a form body)", path, method)
			}
			op, err := b.operation(path, o)
			if err != nil {
				return nil, err
			}
			if s.byAction[op.Action] != nil {
				return nil, fmt.Errorf("spec: paths.%s: action %s is defined twice", path, op.Action)
			}
			s.byAction[op.Action] = op
			s.Operations = append(s.Operations, op)
			s.Ambiguities = append(s.Ambiguities, op.Ambiguities...)
		}
	}
	if len(s.Operations) == 0 {
		return nil, errors.New("spec: paths: no operations")
	}
	sort.Slice(s.Operations, func(i, j int) bool { return s.Operations[i].Action < s.Operations[j].Action })
	sort.Slice(s.Ambiguities, func(i, j int) bool { return s.Ambiguities[i].ID < s.Ambiguities[j].ID })
	for i := 1; i < len(s.Ambiguities); i++ {
		if s.Ambiguities[i].ID == s.Ambiguities[i-1].ID {
			return nil, fmt.Errorf("spec: ambiguity %q is defined twice", s.Ambiguities[i].ID)
		}
	}
	return s, nil
}

func checkMapping(m Mapping) error {
	if m != Documented && m != Inferred {
		return fmt.Errorf("mapping %q: want documented or inferred", m)
	}
	return nil
}

func (b *builder) operation(path string, o *openapi3.Operation) (*Operation, error) {
	where := "paths." + path + ".get"
	op := &Operation{
		Action:  o.OperationID,
		Summary: o.Summary,
		op:      o,
		path:    path,
		params:  map[string]*Parameter{},
	}
	if op.Action == "" {
		return nil, fmt.Errorf("spec: %s: operationId is empty; want the RPC action name", where)
	}
	if !strings.HasSuffix(path, "/"+op.Action) {
		return nil, fmt.Errorf("spec: %s: path does not end in /%s (the operationId)", where, op.Action)
	}
	if _, err := decodeExt(o.Extensions, "x-product", where, &op.Product); err != nil {
		return nil, err
	}
	prod, ok := b.spec.Product(op.Product)
	if !ok {
		return nil, fmt.Errorf("spec: %s.x-product: %q is not one of x-rpc.products", where, op.Product)
	}
	op.Version = prod.Version
	if _, err := decodeExt(o.Extensions, "x-sources", where, &op.Sources); err != nil {
		return nil, err
	}
	if ok, err := decodeExt(o.Extensions, "x-changes", where, &op.Changes); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("spec: %s: x-changes is missing; want the kinds of resource the operation creates or changes (%s), [] for none", where, strings.Join(Resources, ", "))
	}
	for i, k := range op.Changes {
		if !slices.Contains(Resources, k) {
			return nil, fmt.Errorf("spec: %s.x-changes[%d]: got %q, want one of %s", where, i, k, strings.Join(Resources, ", "))
		}
	}
	slices.Sort(op.Changes)
	op.Changes = slices.Compact(op.Changes)
	op.Mutates = len(op.Changes) > 0
	if _, err := decodeExt(o.Extensions, "x-errors", where, &op.Errors); err != nil {
		return nil, err
	}
	for i, e := range op.Errors {
		if e.Code == "" || e.Status < 400 || e.Status > 599 || e.Source == "" {
			return nil, fmt.Errorf("spec: %s.x-errors[%d]: want status 4xx/5xx, code and source, got %+v", where, i, e)
		}
	}
	sort.Slice(op.Errors, func(i, j int) bool {
		a, c := op.Errors[i], op.Errors[j]
		if a.Status != c.Status {
			return a.Status < c.Status
		}
		if a.Code != c.Code {
			return a.Code < c.Code
		}
		if a.Message != c.Message {
			return a.Message < c.Message
		}
		return a.Source < c.Source
	})

	common := map[string]bool{}
	for _, n := range b.spec.CommonParameters {
		common[n] = true
	}
	for i, pr := range o.Parameters {
		pw := fmt.Sprintf("%s.parameters[%d]", where, i)
		if pr.Ref != "" {
			pw += " (" + pr.Ref + ")"
		}
		p, err := b.parameter(pw, pr.Value)
		if err != nil {
			return nil, err
		}
		p.Common = common[p.Name]
		if op.params[p.Name] != nil {
			return nil, fmt.Errorf("spec: %s: parameter %s is listed twice", pw, p.Name)
		}
		op.params[p.Name] = p
		op.Parameters = append(op.Parameters, p)
	}
	sort.Slice(op.Parameters, func(i, j int) bool { return op.Parameters[i].Name < op.Parameters[j].Name })
	if a := op.params["Action"]; a == nil || !slices.Equal(a.Enum, []string{op.Action}) {
		return nil, fmt.Errorf("spec: %s.parameters: want an Action parameter with enum [%s]", where, op.Action)
	}
	if v := op.params["Version"]; v == nil || !slices.Equal(v.Enum, []string{prod.Version}) {
		return nil, fmt.Errorf("spec: %s.parameters: want a Version parameter with enum [%s] (product %s)", where, prod.Version, prod.Name)
	}

	if err := b.derivedRules(op); err != nil {
		return nil, err
	}
	var rules []ruleExt
	if _, err := decodeExt(o.Extensions, "x-rules", where, &rules); err != nil {
		return nil, err
	}
	for i, re := range rules {
		rw := fmt.Sprintf("%s.x-rules[%d] (%s)", where, i, re.ID)
		r := &Rule{
			ID: re.ID, Operation: op.Action, Summary: re.Summary, When: re.When, Check: re.Check,
			Error: re.Error, Mapping: re.Mapping, Source: re.Source, Quote: re.Quote, Note: re.Note,
			AlsoAccept: re.AlsoAccept, Variants: re.Variants, Ambiguous: re.Ambiguous,
		}
		if err := b.addRule(op, r, rw); err != nil {
			return nil, err
		}
	}
	sort.Slice(op.Rules, func(i, j int) bool { return op.Rules[i].ID < op.Rules[j].ID })

	if _, err := decodeExt(o.Extensions, "x-state-rules", where, &op.StateRules); err != nil {
		return nil, err
	}
	for i, sr := range op.StateRules {
		sw := fmt.Sprintf("%s.x-state-rules[%d] (%s)", where, i, sr.ID)
		if sr.ID == "" || sr.Kind == "" || sr.Source == "" {
			return nil, fmt.Errorf("spec: %s: want id, kind and source", sw)
		}
		if !slices.Contains(StateKinds, sr.Kind) {
			return nil, fmt.Errorf("spec: %s: kind %q: want one of %v", sw, sr.Kind, StateKinds)
		}
		if err := checkMapping(sr.Mapping); err != nil {
			return nil, fmt.Errorf("spec: %s: %v", sw, err)
		}
		if sr.Error != nil {
			if err := b.checkError(op, *sr.Error, sr.Mapping); err != nil {
				return nil, fmt.Errorf("spec: %s: %v", sw, err)
			}
		}
		if sr.Requires != "" && !b.hasPath(sr.Requires) {
			return nil, fmt.Errorf("spec: %s: requires %q, which is not an operation", sw, sr.Requires)
		}
	}
	sort.Slice(op.StateRules, func(i, j int) bool { return op.StateRules[i].ID < op.StateRules[j].ID })

	if err := b.examples(op, where); err != nil {
		return nil, err
	}
	op.Ambiguities = op.ambiguities()
	return op, nil
}

func (b *builder) examples(op *Operation, where string) error {
	r := op.op.Responses.Status(200)
	if r == nil || r.Value == nil || r.Value.Content.Get("application/json") == nil {
		return fmt.Errorf("spec: %s.responses: want a 200 response with an application/json schema", where)
	}
	mt := r.Value.Content.Get("application/json")
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range mt.Examples {
			if !yield(k) {
				return
			}
		}
	})
	for _, n := range names {
		ex := mt.Examples[n]
		if ex == nil || ex.Value == nil {
			continue
		}
		op.Examples = append(op.Examples, Example{Name: n, Summary: ex.Value.Summary, Value: ex.Value.Value})
	}
	return nil
}

// paramExt groups a parameter's x- extensions.
type paramExt struct {
	Violation  *Violation     `json:"x-violation"`
	AlsoAccept []AltError     `json:"x-also-accept"`
	Variants   []ParamVariant `json:"x-variants"`
	NotPrefix  []string       `json:"x-not-prefix"`
	Repeat     *struct {
		Style  string   `json:"style"`
		Fields []string `json:"fields"`
	} `json:"x-repeat"`
	Time *struct {
		Layout string `json:"layout"`
	} `json:"x-time"`
	Auth      bool   `json:"x-auth"`
	Ambiguous string `json:"x-ambiguous"`
}

func (b *builder) parameter(where string, pv *openapi3.Parameter) (*Parameter, error) {
	if pv == nil || pv.Schema == nil || pv.Schema.Value == nil {
		return nil, fmt.Errorf("spec: %s: want a parameter with a schema", where)
	}
	if pv.In != "query" {
		return nil, fmt.Errorf("spec: %s: parameter %s is in %q; RPC parameters are all in query", where, pv.Name, pv.In)
	}
	var ext paramExt
	raw, err := json.Marshal(pv.Extensions)
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		err = dec.Decode(&ext)
	}
	if err != nil {
		return nil, fmt.Errorf("spec: %s (%s): extensions: %v; want x-violation, x-also-accept, x-variants, x-not-prefix, x-repeat, x-time, x-auth or x-ambiguous", where, pv.Name, explainJSON(err, nil))
	}
	sc := pv.Schema.Value
	p := &Parameter{
		Name: pv.Name, Required: pv.Required, Description: pv.Description, Pattern: sc.Pattern,
		NotPrefix: ext.NotPrefix, Violation: ext.Violation, AlsoAccept: ext.AlsoAccept,
		Variants: ext.Variants, Auth: ext.Auth, Ambiguous: ext.Ambiguous, Format: sc.Format,
		Example: scalarString(sc.Example),
	}
	if ext.Time != nil {
		p.TimeLayout = ext.Time.Layout
	}
	switch {
	case sc.Type.Is("array"):
		if ext.Repeat == nil {
			return nil, fmt.Errorf("spec: %s (%s): an array parameter needs x-repeat (style list or object-list)", where, p.Name)
		}
		if sc.MaxItems == nil {
			return nil, fmt.Errorf("spec: %s (%s): a repeated parameter needs maxItems", where, p.Name)
		}
		p.MaxItems = int(*sc.MaxItems)
		items := sc.Items.Value
		p.FieldEnums = map[string][]string{}
		switch ext.Repeat.Style {
		case "list":
			p.Type = List
			if items != nil && len(items.Enum) > 0 {
				p.FieldEnums[""] = enumStrings(items.Enum)
			}
			if items != nil {
				p.Example = scalarString(items.Example)
			}
		case "object-list":
			p.Type = ObjectList
			p.Fields = ext.Repeat.Fields
			for _, f := range p.Fields {
				fs := items.Properties[f]
				if fs == nil || fs.Value == nil {
					return nil, fmt.Errorf("spec: %s (%s): x-repeat field %s is not a property of the items", where, p.Name, f)
				}
				if len(fs.Value.Enum) > 0 {
					p.FieldEnums[f] = enumStrings(fs.Value.Enum)
				}
			}
		default:
			return nil, fmt.Errorf("spec: %s (%s): x-repeat.style %q: want list or object-list", where, p.Name, ext.Repeat.Style)
		}
	case sc.Type.Is("integer"):
		p.Type = Integer
	case sc.Type.Is("boolean"):
		p.Type = Boolean
	case sc.Type.Is("string"):
		p.Type = String
	default:
		return nil, fmt.Errorf("spec: %s (%s): type %v: want string, integer, boolean or array", where, p.Name, sc.Type)
	}
	p.Enum = enumStrings(sc.Enum)
	if sc.Default != nil {
		p.Default, p.HasDefault = scalarString(sc.Default), true
	}
	if sc.Min != nil {
		v := int64(*sc.Min)
		p.Minimum = &v
	}
	if sc.Max != nil {
		v := int64(*sc.Max)
		p.Maximum = &v
	}
	if sc.MinLength > 0 {
		v := int(sc.MinLength)
		p.MinLength = &v
	}
	if sc.MaxLength != nil {
		v := int(*sc.MaxLength)
		p.MaxLength = &v
	}
	if p.Violation != nil {
		if err := checkMapping(p.Violation.Mapping); err != nil {
			return nil, fmt.Errorf("spec: %s (%s).x-violation: %v", where, p.Name, err)
		}
	}
	return p, nil
}

func enumStrings(vs []any) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		out = append(out, scalarString(v))
	}
	return out
}

// scalarString writes a YAML scalar as it goes on the wire.
func scalarString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

func int64p(v int64) *int64 { return &v }

func lengthPtr(p *int) *int64 {
	if p == nil {
		return nil
	}
	return int64p(int64(*p))
}

// derivedRules turns each parameter's own schema constraints into rules, so that the oracle
// and the boundary cases treat them like x-rules.
func (b *builder) derivedRules(op *Operation) error {
	missing, _ := b.spec.ProtocolError(ErrMissingParameter)
	for _, p := range op.Parameters {
		where := fmt.Sprintf("paths.%s.get parameter %s", op.path, p.Name)
		base := Rule{Operation: op.Action, Derived: true, Auth: p.Auth, Ambiguous: p.Ambiguous}
		if p.Violation != nil {
			base.Error = ErrorRef{Status: p.Violation.Status, Code: p.Violation.Code}
			base.Mapping = p.Violation.Mapping
			base.Source = p.Violation.Source
			base.Quote = p.Violation.Quote
			base.AlsoAccept = p.AlsoAccept
		}
		var rules []*Rule
		mk := func(suffix, summary string, c Check, variants []RuleVariant) {
			r := base
			r.ID = p.Name + "." + suffix
			r.Summary = summary
			r.Check = c
			r.Variants = variants
			rules = append(rules, &r)
		}
		if p.Required && p.Name != "Action" {
			r := base
			r.ID, r.Summary = p.Name+".required", p.Name+" is required."
			r.Check = Check{Kind: KindPresent, Param: p.Name}
			r.Error, r.Mapping, r.Source, r.Quote = missing.Ref(), missing.Mapping, firstSource(op), "Required: Yes"
			r.AlsoAccept, r.Ambiguous = nil, ""
			for _, v := range p.Variants {
				if v.Required != nil && !*v.Required {
					r.Variants = append(r.Variants, RuleVariant{Source: v.Source, Says: v.Says, Disabled: true})
				}
			}
			rules = append(rules, &r)
		}
		if p.Name == "Action" {
			continue // dispatch decides; an unknown Action has no operation
		}
		switch p.Type {
		case Integer:
			bits := 64
			if p.Format == "int32" {
				bits = 32
			}
			mk("type", fmt.Sprintf("%s is an integer (int%d).", p.Name, bits), Check{Kind: KindInteger, Param: p.Name, Bits: bits}, nil)
		case Boolean:
			mk("type", p.Name+" is true or false.", Check{Kind: KindBoolean, Param: p.Name}, nil)
		}
		if len(p.Enum) > 0 {
			var vs []RuleVariant
			for _, v := range p.Variants {
				if len(v.Enum) > 0 {
					vs = append(vs, RuleVariant{Source: v.Source, Says: v.Says, Check: &Check{Kind: KindEnum, Param: p.Name, Values: v.Enum}})
				}
			}
			mk("enum", p.Name+" is one of the documented values.", Check{Kind: KindEnum, Param: p.Name, Values: p.Enum}, vs)
		}
		if p.Minimum != nil || p.Maximum != nil {
			var vs []RuleVariant
			for _, v := range p.Variants {
				if v.Minimum != nil || v.Maximum != nil {
					c := Check{Kind: KindRange, Param: p.Name, Min: p.Minimum, Max: p.Maximum}
					if v.Minimum != nil {
						c.Min = v.Minimum
					}
					if v.Maximum != nil {
						c.Max = v.Maximum
					}
					vs = append(vs, RuleVariant{Source: v.Source, Says: v.Says, Check: &c})
				}
			}
			mk("range", p.Name+" is within its range.", Check{Kind: KindRange, Param: p.Name, Min: p.Minimum, Max: p.Maximum}, vs)
		}
		if p.MinLength != nil || p.MaxLength != nil {
			var vs []RuleVariant
			for _, v := range p.Variants {
				if v.MinLength != nil || v.MaxLength != nil {
					c := Check{Kind: KindLength, Param: p.Name, Min: lengthPtr(p.MinLength), Max: lengthPtr(p.MaxLength)}
					if v.MinLength != nil {
						c.Min = lengthPtr(v.MinLength)
					}
					if v.MaxLength != nil {
						c.Max = lengthPtr(v.MaxLength)
					}
					vs = append(vs, RuleVariant{Source: v.Source, Says: v.Says, Check: &c})
				}
			}
			mk("length", p.Name+" has a valid length.", Check{Kind: KindLength, Param: p.Name, Min: lengthPtr(p.MinLength), Max: lengthPtr(p.MaxLength)}, vs)
		}
		if p.Pattern != "" {
			mk("pattern", p.Name+" matches its character rules.", Check{Kind: KindPattern, Param: p.Name, Pattern: p.Pattern}, nil)
		}
		if len(p.NotPrefix) > 0 {
			mk("not-prefix", p.Name+" does not start with a forbidden prefix.", Check{Kind: KindNotPrefix, Param: p.Name, Prefixes: p.NotPrefix}, nil)
		}
		if p.TimeLayout != "" {
			mk("time", p.Name+" is a well-formed time.", Check{Kind: KindTime, Param: p.Name, Layout: p.TimeLayout}, nil)
		}
		if p.Type == List || p.Type == ObjectList {
			mk("max-items", fmt.Sprintf("%s has at most %d items.", p.Name, p.MaxItems), Check{Kind: KindMaxItems, Param: p.Name, Max: int64p(int64(p.MaxItems))}, nil)
			for _, f := range slices.Sorted(func(yield func(string) bool) {
				for k := range p.FieldEnums {
					if !yield(k) {
						return
					}
				}
			}) {
				name, suffix := p.Name, "item-enum"
				if f != "" {
					name, suffix = p.Name+"."+f, f+".enum"
				}
				mk(suffix, name+" is one of the documented values.", Check{Kind: KindEnum, Param: name, Values: p.FieldEnums[f]}, nil)
			}
		}
		for _, r := range rules {
			if !r.Check.isPresence() && p.Violation == nil {
				return fmt.Errorf("spec: %s: has constraints (%s) but no x-violation saying which error they map to", where, r.Check.String())
			}
			if err := b.addRule(op, r, where+" ("+r.ID+")"); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Check) isPresence() bool { return c.Kind == KindPresent }

func firstSource(op *Operation) string {
	if len(op.Sources) > 0 {
		return op.Sources[0]
	}
	return ""
}

// addRule checks a rule against the operation and appends it.
func (b *builder) addRule(op *Operation, r *Rule, where string) error {
	if r.ID == "" {
		return fmt.Errorf("spec: %s: rule without id", where)
	}
	if op.Rule(r.ID) != nil {
		return fmt.Errorf("spec: %s: rule id %q is used twice", where, r.ID)
	}
	if err := checkMapping(r.Mapping); err != nil {
		return fmt.Errorf("spec: %s: %v", where, err)
	}
	if r.Source == "" {
		return fmt.Errorf("spec: %s: want a source (the seed file the rule comes from)", where)
	}
	if err := b.checkCheck(op, &r.Check); err != nil {
		return fmt.Errorf("spec: %s.check: %v", where, err)
	}
	for i := range r.Variants {
		v := &r.Variants[i]
		if v.Disabled == (v.Check != nil) {
			return fmt.Errorf("spec: %s.variants[%d]: want either disabled: true or a check", where, i)
		}
		if v.Check != nil {
			if err := b.checkCheck(op, v.Check); err != nil {
				return fmt.Errorf("spec: %s.variants[%d].check: %v", where, i, err)
			}
		}
	}
	seen := map[string]bool{}
	for _, p := range r.Check.subjects() {
		if !seen[p] {
			seen[p] = true
			r.Params = append(r.Params, p)
		}
	}
	for i, c := range r.When {
		if !op.knows(c.Param) {
			return fmt.Errorf("spec: %s.when[%d]: parameter %q is not a parameter of %s", where, i, c.Param, op.Action)
		}
		if (c.Present == nil) == (len(c.In) == 0) {
			return fmt.Errorf("spec: %s.when[%d]: want either in: [values] or present: true|false", where, i)
		}
		if !seen[c.Param] {
			seen[c.Param] = true
			r.Params = append(r.Params, c.Param)
		}
	}
	if err := b.checkError(op, r.Error, r.Mapping); err != nil {
		return fmt.Errorf("spec: %s: %v", where, err)
	}
	for i, a := range r.AlsoAccept {
		if a.Status < 400 || a.Code == "" || a.Source == "" {
			return fmt.Errorf("spec: %s.also-accept[%d]: want status, code and source", where, i)
		}
	}
	op.Rules = append(op.Rules, r)
	return nil
}

// hasPath reports whether the document defines an operation for action.
func (b *builder) hasPath(action string) bool {
	for _, path := range b.doc.Paths.InMatchingOrder() {
		if strings.HasSuffix(path, "/"+action) {
			return true
		}
	}
	return false
}

// knows reports whether name is a parameter (or Name.Field of an object list) of op.
func (op *Operation) knows(name string) bool {
	if op.params[name] != nil {
		return true
	}
	base, f, ok := strings.Cut(name, ".")
	p := op.params[base]
	return ok && p != nil && p.Type == ObjectList && slices.Contains(p.Fields, f)
}

func (b *builder) checkCheck(op *Operation, c *Check) error {
	if !slices.Contains(checkKinds, c.Kind) {
		return fmt.Errorf("kind %q: want one of %v", c.Kind, checkKinds)
	}
	for _, p := range c.subjects() {
		if p == "" {
			return fmt.Errorf("kind %s: missing parameter name", c.Kind)
		}
		if !op.knows(p) {
			return fmt.Errorf("parameter %q is not a parameter of %s", p, op.Action)
		}
	}
	switch c.Kind {
	case KindPresent, KindAbsent, KindInteger, KindBoolean, KindOrder:
	case KindEnum:
		if len(c.Values) == 0 {
			return errors.New("enum: want values")
		}
	case KindRange, KindLength:
		if c.Min == nil && c.Max == nil {
			return fmt.Errorf("%s: want min or max", c.Kind)
		}
		if c.Min != nil && c.Max != nil && *c.Min > *c.Max {
			return fmt.Errorf("%s: min %d > max %d", c.Kind, *c.Min, *c.Max)
		}
	case KindPattern:
		if c.Pattern == "" {
			return errors.New("pattern: want pattern")
		}
	case KindNotPrefix:
		if len(c.Prefixes) == 0 {
			return errors.New("not-prefix: want prefixes")
		}
	case KindTime:
		if c.Layout == "" {
			return errors.New("time: want layout")
		}
	case KindExclusive:
		if len(c.Params) < 2 {
			return errors.New("exclusive: want at least two params")
		}
	case KindMaxItems, KindMaxPoints:
		if c.Max == nil {
			return fmt.Errorf("%s: want max", c.Kind)
		}
	}
	return c.compile()
}

// checkError verifies that a rule's error is in the operation's table or the protocol's, and
// that a documented mapping points at a row a seed documents.
func (b *builder) checkError(op *Operation, ref ErrorRef, m Mapping) error {
	if ref.Code == "" {
		return errors.New("want an error (status and code)")
	}
	documented := false
	found := false
	for _, e := range op.Errors {
		if e.Status == ref.Status && e.Code == ref.Code {
			found = true
			if isSeed(e.Source) {
				documented = true
			}
		}
	}
	for _, e := range b.spec.ProtocolErrors {
		if e.Status == ref.Status && e.Code == ref.Code {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("error %s is neither in %s's x-errors nor in x-rpc.errors", ref, op.Action)
	}
	if m == Documented && !documented {
		return fmt.Errorf("mapping to %s is marked documented, but no seed's error table lists it for %s", ref, op.Action)
	}
	return nil
}

var checkKinds = []CheckKind{KindPresent, KindAbsent, KindEnum, KindRange, KindInteger, KindBoolean, KindLength,
	KindPattern, KindNotPrefix, KindTime, KindExclusive, KindMaxItems, KindMaxPoints, KindOrder}

func isSeed(source string) bool { return strings.HasSuffix(source, ".txt") }

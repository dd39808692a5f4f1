package fuzz

import (
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/eipconform/eipconform/fixtures"
	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
)

// Separators of repeated parameters in an argument: list items are separated by itemSep
// (SecurityProtectionTypes "a\nb" is SecurityProtectionTypes.1=a and .2=b), the fields of an
// object-list item by fieldSep, in the order the spec lists them (Filter "k\tv" is
// Filter.1.Key=k and Filter.1.Value=v).
const (
	itemSep  = "\n"
	fieldSep = "\t"
)

// maxItems bounds the index of a repeated parameter Args converts.
const maxItems = 1000

// Operation fuzzes the operation named action against target: it adds the seeds, then calls
// f.Fuzz with a function taking one string per parameter of the operation, sends each input
// and judges the answer with Check, failing on a violation, a panic, a hang (no answer
// within the target's Timeout), an answer larger than its MaxBody, or a transport error.
//
// The arguments are the operation's parameters in the spec's order (spec.Operation.Parameters,
// sorted by name) without Action and Version, which are fixed to the operation's, and without
// the signature parameters, which the target's key adds: for AllocateEipAddress ActivityId,
// AutoPay, Bandwidth, ..., Format, ..., Zone. The empty string means the parameter is absent
// (an empty value is the spec's ambiguity empty-optional-value, which the oracle treats as
// absent). A repeated parameter's argument is its items separated by "\n", an empty item
// leaving its index out; an object list's item is its fields in the spec's order separated by
// "\t" (DescribeEipAddresses Filter "CreationStartTime\t2023-01-01T01:00Z\nCreationEndTime"
// is Filter.1.Key, Filter.1.Value and Filter.2.Key). Args converts a request into arguments.
//
// The seeds are the documents' sample requests (package fixtures), the operation's minimal
// request (spec.Operation.BaseRequest) and every boundary case the spec enumerates
// (spec.Operation.Cases), as far as arguments can express them; add your own with f.Add
// before calling Operation, and keep crashers in testdata/fuzz/FuzzXxx.
//
//	func FuzzReleaseEipAddress(f *testing.F) {
//		fuzz.Operation(f, fuzz.Target{New: newEmulator}, "ReleaseEipAddress")
//	}
func Operation(f *testing.F, target Target, action string) {
	f.Helper()
	if err := target.validate(); err != nil {
		f.Fatal(err)
	}
	sh, err := shapeFor(action)
	if err != nil {
		f.Fatal(err)
	}
	seeds, err := sh.seeds()
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range seeds {
		args := make([]any, len(seed))
		for i, a := range seed {
			args[i] = a
		}
		f.Add(args...)
	}
	r := &runner{target: target, sh: sh, oracle: oracleFor(sh.op), auth: target.AccessKeyID != ""}
	f.Cleanup(r.close)
	fn := reflect.MakeFunc(sh.fnType, func(in []reflect.Value) []reflect.Value {
		t := in[0].Interface().(*testing.T)
		args := make([]string, len(in)-1)
		for i := range args {
			args[i] = in[i+1].String()
		}
		r.run(t, args)
		return nil
	})
	f.Fuzz(fn.Interface())
}

// Args returns the arguments of Operation's fuzz function for a request of the operation
// named action, for f.Add. Action and Version may be present with the operation's values.
// Parameters the arguments cannot express are an error naming them: unknown names, signature
// parameters, several values, empty values (the empty argument means absent), indices above
// 1000 and items holding a separator.
//
//	args, err := fuzz.Args("ReleaseEipAddress", url.Values{"RegionId": {"cn-hangzhou"}, "AllocationId": {id}})
//	if err != nil {
//		f.Fatal(err)
//	}
//	f.Add(args...)
func Args(action string, params url.Values) ([]any, error) {
	sh, err := shapeFor(action)
	if err != nil {
		return nil, err
	}
	args, lost := sh.args(params)
	if len(lost) > 0 {
		return nil, fmt.Errorf("fuzz: %s: the fuzz arguments cannot express %s", action, strings.Join(lost, "; "))
	}
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = a
	}
	return out, nil
}

// shape is how one operation's parameters map onto fuzz arguments.
type shape struct {
	op     *spec.Operation
	params []*spec.Parameter // the arguments, in order
	index  map[string]int    // parameter name -> argument
	fnType reflect.Type      // func(*testing.T, string, ...)
}

var shapes sync.Map // action -> *shape

func shapeFor(action string) (*shape, error) {
	if sh, ok := shapes.Load(action); ok {
		return sh.(*shape), nil
	}
	s := spec.Default()
	op := s.Operation(action)
	if op == nil {
		actions := make([]string, len(s.Operations))
		for i, o := range s.Operations {
			actions[i] = o.Action
		}
		return nil, fmt.Errorf("fuzz: the spec has no operation %q; want one of %s", action, strings.Join(actions, ", "))
	}
	sh := &shape{op: op, index: map[string]int{}}
	in := []reflect.Type{reflect.TypeFor[*testing.T]()}
	for _, p := range op.Parameters {
		if p.Name == rpc.ParamAction || p.Name == rpc.ParamVersion || (p.Common && p.Auth) {
			continue
		}
		sh.index[p.Name] = len(sh.params)
		sh.params = append(sh.params, p)
		in = append(in, reflect.TypeFor[string]())
	}
	sh.fnType = reflect.FuncOf(in, nil, false)
	got, _ := shapes.LoadOrStore(action, sh)
	return got.(*shape), nil
}

// request returns the parameters the arguments stand for.
func (sh *shape) request(args []string) url.Values {
	p := make(url.Values, len(args)+2)
	p[rpc.ParamAction] = []string{sh.op.Action}
	p[rpc.ParamVersion] = []string{sh.op.Version}
	for i, a := range args {
		if a == "" {
			continue
		}
		prm := sh.params[i]
		switch prm.Type {
		case spec.List:
			for j, item := range strings.Split(a, itemSep) {
				if item != "" {
					p[prm.Name+"."+strconv.Itoa(j+1)] = []string{item}
				}
			}
		case spec.ObjectList:
			if len(prm.Fields) == 0 {
				continue
			}
			for j, item := range strings.Split(a, itemSep) {
				for k, v := range strings.SplitN(item, fieldSep, len(prm.Fields)) {
					if v != "" {
						p[prm.Name+"."+strconv.Itoa(j+1)+"."+prm.Fields[k]] = []string{v}
					}
				}
			}
		default:
			p[prm.Name] = []string{a}
		}
	}
	return p
}

// args converts a request into arguments; lost says what the arguments cannot express.
func (sh *shape) args(params url.Values) (args []string, lost []string) {
	args = make([]string, len(sh.params))
	items := map[int][]string{}             // argument -> list items
	fields := map[int][]map[string]string{} // argument -> object-list items' fields
	for _, name := range slices.Sorted(maps.Keys(params)) {
		values := params[name]
		if len(values) == 0 {
			continue
		}
		v := values[0]
		why := ""
		switch {
		case name == rpc.ParamAction || name == rpc.ParamVersion:
			want := sh.op.Action
			if name == rpc.ParamVersion {
				want = sh.op.Version
			}
			if v != want || len(values) > 1 {
				why = fmt.Sprintf("%s %q (fixed to %q)", name, values, want)
			}
		case len(values) > 1:
			why = fmt.Sprintf("%s sent %d times", name, len(values))
		case v == "":
			why = name + " sent empty (the empty argument means absent)"
		default:
			why = sh.place(name, v, args, items, fields)
		}
		if why != "" {
			lost = append(lost, why)
		}
	}
	for i, list := range items {
		args[i] = strings.Join(list, itemSep)
	}
	for i, objs := range fields {
		prm := sh.params[i]
		parts := make([]string, len(objs))
		for j, obj := range objs {
			fs := make([]string, len(prm.Fields))
			for k, f := range prm.Fields {
				fs[k] = obj[f]
			}
			parts[j] = strings.TrimRight(strings.Join(fs, fieldSep), fieldSep)
		}
		args[i] = strings.Join(parts, itemSep)
	}
	return args, lost
}

// place puts one parameter into the arguments, or says why it cannot.
func (sh *shape) place(name, v string, args []string, items map[int][]string, fields map[int][]map[string]string) string {
	if i, ok := sh.index[name]; ok && sh.params[i].Type != spec.List && sh.params[i].Type != spec.ObjectList {
		args[i] = v
		return ""
	}
	base, rest, ok := strings.Cut(name, ".")
	i, known := sh.index[base]
	if !ok || !known {
		return name + " (not a parameter of the operation, or a signature parameter)"
	}
	prm := sh.params[i]
	numText, field, hasField := strings.Cut(rest, ".")
	n, err := strconv.Atoi(numText)
	if err != nil || n < 1 || n > maxItems || strconv.Itoa(n) != numText {
		return fmt.Sprintf("%s (the index must be 1 to %d, written plainly)", name, maxItems)
	}
	if strings.Contains(v, itemSep) {
		return fmt.Sprintf("%s=%q (holds the item separator %q)", name, v, itemSep)
	}
	switch {
	case prm.Type == spec.List && !hasField:
		list := items[i]
		for len(list) < n {
			list = append(list, "")
		}
		list[n-1] = v
		items[i] = list
	case prm.Type == spec.ObjectList && hasField && slices.Contains(prm.Fields, field):
		if strings.Contains(v, fieldSep) {
			return fmt.Sprintf("%s=%q (holds the field separator %q)", name, v, fieldSep)
		}
		objs := fields[i]
		for len(objs) < n {
			objs = append(objs, map[string]string{})
		}
		objs[n-1][field] = v
		fields[i] = objs
	default:
		return name + " (not a wire name of " + prm.Name + ")"
	}
	return ""
}

// seeds returns the operation's seed arguments: its documented sample requests, its minimal
// request and its boundary cases, without duplicates, in that order.
func (sh *shape) seeds() ([][]string, error) {
	examples, err := requestExamples()
	if err != nil {
		return nil, fmt.Errorf("fuzz: the documents' sample requests: %w", err)
	}
	reqs := slices.Clone(examples[sh.op.Action])
	reqs = append(reqs, sh.op.BaseRequest())
	for _, c := range sh.op.Cases() {
		reqs = append(reqs, c.Params)
	}
	seen := map[string]bool{}
	var out [][]string
	for _, p := range reqs {
		args, _ := sh.args(p)
		key := strings.Join(quoted(args), ",")
		if !seen[key] {
			seen[key] = true
			out = append(out, args)
		}
	}
	return out, nil
}

func quoted(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

// requestExamples returns the documents' sample requests by action.
var requestExamples = sync.OnceValues(func() (map[string][]url.Values, error) {
	examples, err := fixtures.Examples()
	if err != nil {
		return nil, err
	}
	out := map[string][]url.Values{}
	for _, ex := range examples {
		if ex.Kind != fixtures.KindRequest {
			continue
		}
		p, err := fixtures.Request(ex)
		if err != nil {
			return nil, err
		}
		out[ex.Operation] = append(out[ex.Operation], p)
	}
	return out, nil
})

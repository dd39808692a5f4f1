package fuzz_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eipconform/eipconform/fuzz"
	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
)

// TestArgsOrder pins the argument order Operation documents: the parameters sorted by name,
// without Action, Version and the signature parameters, Format included.
func TestArgsOrder(t *testing.T) {
	op := spec.Default().Operation("ReleaseEipAddress")
	args, err := fuzz.Args(op.Action, url.Values{"RegionId": {"r"}, "AllocationId": {"a"}, rpc.ParamFormat: {"XML"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"a", "XML", "r"} // AllocationId, Format, RegionId
	if diff := cmp.Diff(want, args); diff != "" {
		t.Errorf("Args(ReleaseEipAddress) mismatch (-want +got):\n%s", diff)
	}
}

// TestArgsRepeated pins how repeated parameters are written: items separated by "\n", an
// object list's fields by "\t" in the spec's order, gaps as empty items.
func TestArgsRepeated(t *testing.T) {
	tests := []struct {
		action string
		params url.Values
		param  string
		want   string
	}{
		{"AllocateEipAddress", url.Values{"SecurityProtectionTypes.1": {"a"}, "SecurityProtectionTypes.2": {"b"}}, "SecurityProtectionTypes", "a\nb"},
		{"AllocateEipAddress", url.Values{"SecurityProtectionTypes.3": {"c"}}, "SecurityProtectionTypes", "\n\nc"},
		{"DescribeEipAddresses", url.Values{"Filter.1.Key": {"k"}, "Filter.1.Value": {"v"}, "Filter.2.Key": {"k2"}}, "Filter", "k\tv\nk2"},
		{"DescribeEipAddresses", url.Values{"Filter.1.Value": {"v"}}, "Filter", "\tv"},
	}
	for _, tt := range tests {
		args, err := fuzz.Args(tt.action, tt.params)
		if err != nil {
			t.Fatalf("Args(%s, %v) = %v", tt.action, tt.params, err)
		}
		i := argIndex(t, tt.action, tt.param)
		if got := args[i]; got != tt.want {
			t.Errorf("Args(%s, %v)[%s] = %q, want %q", tt.action, tt.params, tt.param, got, tt.want)
		}
	}
}

// argIndex returns the position of param among the arguments of action.
func argIndex(t *testing.T, action, param string) int {
	t.Helper()
	i := 0
	for _, p := range spec.Default().Operation(action).Parameters {
		if p.Name == rpc.ParamAction || p.Name == rpc.ParamVersion || p.Common && p.Auth {
			continue
		}
		if p.Name == param {
			return i
		}
		i++
	}
	t.Fatalf("test bug: %s has no argument %s", action, param)
	return -1
}

func TestArgsErrors(t *testing.T) {
	tests := []struct {
		name   string
		action string
		params url.Values
		want   string
	}{
		{"unknown action", "NoSuchAction", url.Values{}, `the spec has no operation "NoSuchAction"`},
		{"unknown parameter", "ReleaseEipAddress", url.Values{"Nope": {"x"}}, "Nope (not a parameter of the operation, or a signature parameter)"},
		{"signature parameter", "ReleaseEipAddress", url.Values{rpc.ParamSignatureNonce: {"n"}}, "SignatureNonce (not a parameter"},
		{"other version", "ReleaseEipAddress", url.Values{rpc.ParamVersion: {"2014-05-26"}}, "Version [\"2014-05-26\"] (fixed to"},
		{"other action", "ReleaseEipAddress", url.Values{rpc.ParamAction: {"AllocateEipAddress"}}, "(fixed to \"ReleaseEipAddress\")"},
		{"two values", "ReleaseEipAddress", url.Values{"RegionId": {"a", "b"}}, "RegionId sent 2 times"},
		{"empty value", "ReleaseEipAddress", url.Values{"RegionId": {""}}, "RegionId sent empty"},
		{"index 0", "AllocateEipAddress", url.Values{"SecurityProtectionTypes.0": {"a"}}, "the index must be 1 to 1000"},
		{"index 01", "AllocateEipAddress", url.Values{"SecurityProtectionTypes.01": {"a"}}, "written plainly"},
		{"item separator", "AllocateEipAddress", url.Values{"SecurityProtectionTypes.1": {"a\nb"}}, "holds the item separator"},
		{"field separator", "DescribeEipAddresses", url.Values{"Filter.1.Key": {"a\tb"}}, "holds the field separator"},
		{"unknown field", "DescribeEipAddresses", url.Values{"Filter.1.Nope": {"a"}}, "not a wire name of Filter"},
		{"list without index", "AllocateEipAddress", url.Values{"SecurityProtectionTypes": {"a"}}, "SecurityProtectionTypes (not a parameter"},
	}
	for _, tt := range tests {
		_, err := fuzz.Args(tt.action, tt.params)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Args(%s, %v) = %v, want an error containing %q", tt.name, tt.action, tt.params, err, tt.want)
		}
	}
}

// TestArgsExpressCases checks that the arguments express every boundary case (Version aside,
// which is fixed, and empty values, which mean absent): the seeds are the cases.
func TestArgsExpressCases(t *testing.T) {
	for _, op := range spec.Default().Operations {
		for _, c := range op.Cases() {
			p := url.Values{}
			for k, v := range c.Params {
				if k == rpc.ParamVersion && v[0] != op.Version || v[0] == "" {
					continue
				}
				p[k] = v
			}
			if _, err := fuzz.Args(op.Action, p); err != nil {
				t.Errorf("%s case %s: %v", op.Action, c.Name, err)
			}
		}
	}
}

package spec_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eipconform/eipconform/spec"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestDefaultLoads(t *testing.T) {
	s := spec.Default()
	want := map[string]string{
		"AllocateEipAddress": "Vpc", "AssociateEipAddress": "Vpc", "UnassociateEipAddress": "Vpc",
		"ModifyEipAddressAttribute": "Vpc", "DescribeEipAddresses": "Vpc", "ReleaseEipAddress": "Vpc",
		"DescribeEipGatewayInfo": "Vpc", "DescribeEipMonitorData": "Vpc", "OpenPublicIpAddressPoolService": "Vpc",
		"OpenVpcIpamService": "VpcIpam", "AllocatePublicIpAddress": "Ecs",
	}
	if len(s.Operations) != len(want) {
		t.Errorf("got %d operations, want %d", len(s.Operations), len(want))
	}
	for action, product := range want {
		op := s.Operation(action)
		if op == nil {
			t.Errorf("operation %s missing", action)
			continue
		}
		if op.Product != product {
			t.Errorf("%s: product %s, want %s", action, op.Product, product)
		}
		if len(op.Examples) == 0 {
			t.Errorf("%s: no success example", action)
		}
		if op.SuccessSchema() == nil {
			t.Errorf("%s: no success schema", action)
		}
	}
	for i := 1; i < len(s.Operations); i++ {
		if s.Operations[i-1].Action >= s.Operations[i].Action {
			t.Errorf("operations not sorted: %s before %s", s.Operations[i-1].Action, s.Operations[i].Action)
		}
	}
}

// TestChanges pins what each operation creates or changes (x-changes), from the seeds'
// descriptions, and the facts derived from it.
func TestChanges(t *testing.T) {
	s := spec.Default()
	for _, tc := range []struct {
		action  string
		changes []string
	}{
		{"AllocateEipAddress", []string{spec.ResourceEIP}},
		{"AssociateEipAddress", []string{spec.ResourceEIP, spec.ResourceENI, spec.ResourceInstance}},
		{"UnassociateEipAddress", []string{spec.ResourceEIP, spec.ResourceENI, spec.ResourceInstance}},
		{"ModifyEipAddressAttribute", []string{spec.ResourceEIP}},
		{"ReleaseEipAddress", []string{spec.ResourceEIP}},
		{"DescribeEipAddresses", nil},
		{"DescribeEipGatewayInfo", nil},
		{"DescribeEipMonitorData", nil},
		{"OpenPublicIpAddressPoolService", []string{spec.ResourceAccount}},
		{"OpenVpcIpamService", []string{spec.ResourceAccount}},
		{"AllocatePublicIpAddress", []string{spec.ResourceInstance}},
	} {
		op := s.Operation(tc.action)
		if diff := cmp.Diff(tc.changes, op.Changes, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s.Changes (-want +got):\n%s", tc.action, diff)
		}
		if got, want := op.Mutates, len(tc.changes) > 0; got != want {
			t.Errorf("%s.Mutates = %v, want %v", tc.action, got, want)
		}
		for _, k := range spec.Resources {
			if got, want := op.ChangesAny(k), slices.Contains(tc.changes, k); got != want {
				t.Errorf("%s.ChangesAny(%s) = %v, want %v", tc.action, k, got, want)
			}
		}
		if got, want := op.ChangesAny(spec.ResourceEIP, spec.ResourceAccount), slices.Contains(tc.changes, spec.ResourceEIP) || slices.Contains(tc.changes, spec.ResourceAccount); got != want {
			t.Errorf("%s.ChangesAny(eip, account) = %v, want %v", tc.action, got, want)
		}
	}
}

// TestResponseTypes pins the element types the issue names.
func TestResponseTypes(t *testing.T) {
	s := spec.Default()
	for _, tc := range []struct{ action, path, typ string }{
		{"AllocateEipAddress", "OrderId", "integer"},
		{"AllocateEipAddress", "AllocationId", "string"},
		{"DescribeEipAddresses", "EipAddresses.EipAddress", "array"},
		{"DescribeEipAddresses", "EipAddresses.EipAddress[].Bandwidth", "string"},
		{"DescribeEipAddresses", "TotalCount", "integer"},
		{"DescribeEipMonitorData", "EipMonitorDatas.EipMonitorData[].EipFlow", "integer"},
		{"DescribeEipGatewayInfo", "EipInfos.EipInfo", "array"},
		{"AllocatePublicIpAddress", "IpAddress", "string"},
	} {
		sc := s.Operation(tc.action).SuccessSchema().Value
		for _, part := range strings.Split(tc.path, ".") {
			name, isItem := strings.CutSuffix(part, "[]")
			sc = sc.Properties[name].Value
			if isItem {
				sc = sc.Items.Value
			}
		}
		if !sc.Type.Is(tc.typ) {
			t.Errorf("%s response %s: type %v, want %s", tc.action, tc.path, sc.Type, tc.typ)
		}
	}
}

// TestLoadErrorsNameTheLocation breaks the embedded document in several ways; each error
// must say where and what was expected.
func TestLoadErrorsNameTheLocation(t *testing.T) {
	good := spec.Embedded()
	for _, tc := range []struct {
		name, old, new string
		want           []string
	}{
		{"unknown check kind", "check: {kind: exclusive, params: [Zone, PublicIpAddressPoolId]}", "check: {kind: rnage, params: [Zone, PublicIpAddressPoolId]}",
			[]string{"/Vpc/AllocateEipAddress", "zone-pool-exclusive", `kind "rnage"`}},
		{"unknown rule field", "check: {kind: exclusive, params: [Zone, PublicIpAddressPoolId]}", "chek: {kind: exclusive, params: [Zone, PublicIpAddressPoolId]}",
			[]string{"/Vpc/AllocateEipAddress", "x-rules", `unknown field "chek"`}},
		{"rule on unknown parameter", "check: {kind: range, param: Bandwidth, min: 1, max: 1000}", "check: {kind: range, param: Bandwith, min: 1, max: 1000}",
			[]string{"bandwidth-prepaid", `"Bandwith" is not a parameter of AllocateEipAddress`}},
		{"documented code no seed lists", "error: {status: 400, code: ExclusiveParam.ZoneAndPublicIpAddressPoolId}", "error: {status: 400, code: InvalidParameter.TooMany}",
			[]string{"zone-pool-exclusive", "neither in AllocateEipAddress's x-errors"}},
		{"wrong type in extension", "min: 1, max: 500}", "min: one, max: 500}",
			[]string{"x-rules", "want"}},
		{"yaml syntax", "x-product: Vpc\n      x-sources: [004", "x-product: [Vpc\n      x-sources: [004",
			[]string{"line"}},
		{"unknown state kind", "kind: quota-exceeded,", "kind: quota-exeeded,",
			[]string{"x-state-rules", `kind "quota-exeeded"`}},
		{"unknown resource kind", "operationId: ReleaseEipAddress\n      x-changes: [eip]", "operationId: ReleaseEipAddress\n      x-changes: [eips]",
			[]string{"/Vpc/ReleaseEipAddress", "x-changes[0]", `got "eips"`, "want one of eip, instance, eni, account"}},
		{"missing x-changes", "operationId: DescribeEipAddresses\n      x-changes: []", "operationId: DescribeEipAddresses\n      x-chnages: []",
			[]string{"/Vpc/DescribeEipAddresses", "x-changes is missing"}},
		{"missing x-violation", `x-violation: {status: 400, code: InvalidIpAddress.Malformed`, `x-violatoin: {status: 400, code: InvalidIpAddress.Malformed`,
			[]string{"IpAddress", "x-violatoin"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.Contains(good, []byte(tc.old)) {
				t.Fatalf("test is stale: the document no longer contains %q", tc.old)
			}
			bad := bytes.Replace(good, []byte(tc.old), []byte(tc.new), 1)
			_, err := spec.Load(bad)
			if err == nil {
				t.Fatalf("Load(document with %s) succeeded, want an error", tc.name)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "eip.yaml")
	if err := os.WriteFile(path, spec.Embedded(), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := spec.LoadFile(path)
	if err != nil {
		t.Fatalf("LoadFile(copy of the embedded document): %v", err)
	}
	if len(s.Operations) != len(spec.Default().Operations) {
		t.Errorf("LoadFile: %d operations, want %d", len(s.Operations), len(spec.Default().Operations))
	}
	if _, err := spec.LoadFile(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("LoadFile(missing) error = %v, want one naming the file", err)
	}
	huge := bytes.Repeat([]byte("#"), 17<<20)
	if _, err := spec.Load(huge); err == nil || !strings.Contains(err.Error(), "bytes") {
		t.Errorf("Load(17 MiB) error = %v, want a size error", err)
	}
}

func TestJSONIsTheDocument(t *testing.T) {
	js, err := spec.Default().JSON()
	if err != nil {
		t.Fatal(err)
	}
	s, err := spec.Load(js)
	if err != nil {
		t.Fatalf("the JSON form does not load back: %v", err)
	}
	if got, want := len(s.Ambiguities), len(spec.Default().Ambiguities); got != want {
		t.Errorf("JSON round trip: %d ambiguities, want %d", got, want)
	}
}

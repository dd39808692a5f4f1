package conformance

import "testing"

func TestSelectors(t *testing.T) {
	type ask struct{ op, phase, check string }
	for _, tc := range []struct {
		name       string
		only, skip []string
		yes, no    []ask
	}{
		{name: "everything", yes: []ask{{"", "boundaries", ""}, {"ReleaseEipAddress", "boundaries", "status"}}},
		{name: "only a phase", only: []string{"boundaries"},
			yes: []ask{{"", "boundaries", ""}, {"ReleaseEipAddress", "boundaries", ""}, {"ReleaseEipAddress", "boundaries", "status"}},
			no:  []ask{{"", "stateful", ""}, {"ReleaseEipAddress", "protocol", "status"}}},
		{name: "only an operation", only: []string{"ReleaseEipAddress"},
			yes: []ask{{"", "boundaries", ""}, {"ReleaseEipAddress", "stateful", ""}},
			no:  []ask{{"AllocateEipAddress", "boundaries", ""}}},
		{name: "only op/phase", only: []string{"DescribeEipAddresses/boundaries"},
			yes: []ask{{"", "boundaries", ""}, {"DescribeEipAddresses", "boundaries", "schema"}},
			no:  []ask{{"", "examples", ""}, {"ReleaseEipAddress", "boundaries", ""}}},
		{name: "only op/phase/check", only: []string{"DescribeEipAddresses/boundaries/status"},
			yes: []ask{{"", "boundaries", ""}, {"DescribeEipAddresses", "boundaries", ""}, {"DescribeEipAddresses", "boundaries", "status"}},
			no:  []ask{{"DescribeEipAddresses", "boundaries", "schema"}}},
		{name: "only a check", only: []string{"schema"},
			yes: []ask{{"", "boundaries", ""}, {"ReleaseEipAddress", "examples", "schema"}},
			no:  []ask{{"ReleaseEipAddress", "examples", "status"}}},
		{name: "skip a phase", skip: []string{"protocol"},
			yes: []ask{{"", "boundaries", ""}}, no: []ask{{"", "protocol", ""}, {"ReleaseEipAddress", "protocol", "status"}}},
		{name: "skip a check keeps its phase", skip: []string{"*/boundaries/status"},
			yes: []ask{{"", "boundaries", ""}, {"ReleaseEipAddress", "boundaries", "schema"}},
			no:  []ask{{"ReleaseEipAddress", "boundaries", "status"}}},
		{name: "skip an operation", skip: []string{"AllocatePublicIpAddress"},
			yes: []ask{{"", "boundaries", ""}, {"ReleaseEipAddress", "boundaries", ""}},
			no:  []ask{{"AllocatePublicIpAddress", "boundaries", ""}}},
	} {
		s := &session{opts: Options{Only: tc.only, Skip: tc.skip}}
		for _, a := range tc.yes {
			if !s.selected(a.op, a.phase, a.check) {
				t.Errorf("%s (only %v, skip %v): selected(%q, %q, %q) = false, want true", tc.name, tc.only, tc.skip, a.op, a.phase, a.check)
			}
		}
		for _, a := range tc.no {
			if s.selected(a.op, a.phase, a.check) {
				t.Errorf("%s (only %v, skip %v): selected(%q, %q, %q) = true, want false", tc.name, tc.only, tc.skip, a.op, a.phase, a.check)
			}
		}
	}
}

func TestValidSelector(t *testing.T) {
	for _, sel := range []string{"boundaries", "ReleaseEipAddress", "schema", "ReleaseEipAddress/boundaries", "*/protocol/nonce", "ReleaseEipAddress/*"} {
		if err := validSelector(sel); err != nil {
			t.Errorf("validSelector(%q) = %v, want nil", sel, err)
		}
	}
	for _, sel := range []string{"", "Nope/boundaries", "ReleaseEipAddress/nophase", "a/b/c/d"} {
		if err := validSelector(sel); err == nil {
			t.Errorf("validSelector(%q) = nil, want an error", sel)
		}
	}
}

package emulator_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/eipconform/eipconform/emulator"
	"github.com/eipconform/eipconform/spec"
)

// TestErrorMessageNamesTheRightParameter: an error code whose table rows are each about one
// parameter answers with the row about the parameter at fault, or with a message that names
// no other parameter; never with another parameter's row.
func TestErrorMessageNamesTheRightParameter(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	for _, tc := range []struct {
		name      string
		kv        []string
		mustNot   []string // parameters the message must not name
		mustOneOf []string // what the message must contain, one of
	}{
		{"bad Name", []string{"Name", "1starts-with-a-digit"}, []string{"Bandwidth", "InternetChargeType"}, []string{"Name", "The specified parameter is not valid."}},
		{"Bandwidth over the PayByTraffic maximum", []string{"InternetChargeType", "PayByTraffic", "Bandwidth", "201"}, []string{"Name"}, []string{"Bandwidth"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call("AllocateEipAddress", tc.kv...)
			p := url.Values{"Action": {"AllocateEipAddress"}, "Version": {versionOf("AllocateEipAddress")}, "RegionId": {"cn-hangzhou"}}
			for i := 0; i+1 < len(tc.kv); i += 2 {
				p.Set(tc.kv[i], tc.kv[i+1])
			}
			v := spec.Default().Evaluate(p, spec.Options{})
			if r.Error == nil || v.Outcome != spec.Reject || !v.Allows(r.Status, r.Error.Code) {
				t.Fatalf("AllocateEipAddress %v: got %d %v, want %v", tc.kv, r.Status, r.Error, v)
			}
			msg := r.Error.Message
			for _, p := range tc.mustNot {
				if strings.Contains(msg, p) {
					t.Errorf("AllocateEipAddress %v: message %q names %s, which is not at fault", tc.kv, msg, p)
				}
			}
			found := false
			for _, w := range tc.mustOneOf {
				found = found || strings.Contains(msg, w)
			}
			if !found {
				t.Errorf("AllocateEipAddress %v: message %q; want it to contain one of %q", tc.kv, msg, tc.mustOneOf)
			}
		})
	}
}

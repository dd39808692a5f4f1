package conformance

import (
	"net/url"
	"testing"
)

// TestValuesKeyIsExact: parameter sets that differ get different keys, however their names
// and values could run together; equal sets get equal keys whatever the map order.
func TestValuesKeyIsExact(t *testing.T) {
	distinct := []url.Values{
		{},
		{"a": {""}},
		{"a": {"b"}},
		{"a": {"b", "c"}},
		{"a": {"bc"}},
		{"ab": {"c"}},
		{"a": {"b"}, "c": {""}},
		{"a": {"b,1:c"}},
		{"a": {"1;1:b"}},
		{"a": {""}, "b": {""}},
		{"a:": {""}},
	}
	seen := map[string]int{}
	for i, p := range distinct {
		k := valuesKey(p)
		if j, dup := seen[k]; dup {
			t.Errorf("valuesKey(%v) = valuesKey(%v) = %q; want different keys", p, distinct[j], k)
		}
		seen[k] = i
	}
	a := url.Values{"x": {"1"}, "y": {"2"}, "z": {"3", "4"}}
	b := url.Values{"z": {"3", "4"}, "y": {"2"}, "x": {"1"}}
	if valuesKey(a) != valuesKey(b) {
		t.Errorf("valuesKey differs for equal sets: %q vs %q", valuesKey(a), valuesKey(b))
	}
}

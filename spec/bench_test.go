package spec_test

import (
	"testing"

	"github.com/eipconform/eipconform/spec"
)

// BenchmarkEvaluate measures one verdict for a request that breaks a documented rule; the
// fuzz oracle and every phase call it once per request.
func BenchmarkEvaluate(b *testing.B) {
	op := spec.Default().Operation("AllocateEipAddress")
	p := op.BaseRequest()
	p.Set("InstanceChargeType", "PostPaid")
	p.Set("InternetChargeType", "PayByTraffic")
	p.Set("Bandwidth", "201")
	p.Set("Name", "EIP1")
	b.ReportAllocs()
	for b.Loop() {
		if v := op.Evaluate(p, spec.Options{}); v.Outcome != spec.Reject {
			b.Fatalf("verdict %s, want reject", v)
		}
	}
}

// BenchmarkCasesAll measures Operation.Cases for every operation, as the boundaries phase
// calls it: the cases are enumerated and judged once per process (the first call, outside
// the measured loop's steady state) and copied on every call, so this is the copying.
func BenchmarkCasesAll(b *testing.B) {
	s := spec.Default()
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for _, op := range s.Operations {
			n += len(op.Cases())
		}
		if n == 0 {
			b.Fatal("no cases")
		}
	}
}

// BenchmarkLoad measures loading and validating the embedded document.
func BenchmarkLoad(b *testing.B) {
	doc := spec.Embedded()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := spec.Load(doc); err != nil {
			b.Fatal(err)
		}
	}
}

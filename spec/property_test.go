package spec_test

import (
	"bytes"
	"flag"
	"net/url"
	"regexp"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/eipconform/eipconform/spec"
	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/gen"
	"github.com/leanovate/gopter/prop"
)

var propertySeed = flag.Int64("seed", 1, "seed of the property tests")

// checkProperties runs props with the test's seed and reports the shrunk counterexample
// together with the reproduce line.
func checkProperties(t *testing.T, props *gopter.Properties) {
	t.Helper()
	var out bytes.Buffer
	if !props.Run(gopter.NewFormatedReporter(true, 100, &out)) {
		t.Errorf("%s\nreproduce: go test ./spec -run '^%s$' -seed %d", out.String(), t.Name(), *propertySeed)
	}
}

// TestBandwidthProperty compares the oracle with an independent model of 002's ranges on
// random bandwidths and charge types.
func TestBandwidthProperty(t *testing.T) {
	params := gopter.DefaultTestParametersWithSeed(*propertySeed)
	params.MinSuccessfulTests = 500
	props := gopter.NewProperties(params)
	op := spec.Default().Operation("AllocateEipAddress")
	props.Property("oracle rejects exactly the out-of-range bandwidths", prop.ForAll(
		func(bw int, ict, itc string) bool {
			p := op.BaseRequest()
			p.Set("Bandwidth", strconv.Itoa(bw))
			set(p, "InstanceChargeType", ict)
			set(p, "InternetChargeType", itc)
			if ict == "PrePaid" {
				p.Set("Period", "1")
				p.Set("PricingCycle", "Month")
				p.Set("AutoPay", "false")
			}
			max := 500 // defaults: PostPaid + PayByBandwidth
			switch {
			case ict == "PrePaid" && itc == "PayByTraffic":
				max = 0 // a PrePaid EIP must be PayByBandwidth
			case ict == "PrePaid":
				max = 1000
			case itc == "PayByTraffic":
				max = 200
			}
			v := op.Evaluate(p, spec.Options{})
			wantReject := bw < 1 || bw > max
			return (v.Outcome == spec.Reject) == wantReject && (!wantReject || v.Allows(400, "InvalidParameter"))
		},
		gen.OneGenOf(gen.IntRange(-5, 1100), gen.OneConstOf(0, 1, 199, 200, 201, 499, 500, 501, 999, 1000, 1001)),
		gen.OneConstOf("", "PostPaid", "PrePaid"),
		gen.OneConstOf("", "PayByBandwidth", "PayByTraffic"),
	))
	checkProperties(t, props)
}

// TestNameProperty compares the oracle with 002's Name rule on random strings.
func TestNameProperty(t *testing.T) {
	props := gopter.NewProperties(gopter.DefaultTestParametersWithSeed(*propertySeed))
	op := spec.Default().Operation("AllocateEipAddress")
	valid := regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]*$`)
	props.Property("a non-empty Name is accepted iff it is 1-128 letters, digits, . _ - starting with a letter", prop.ForAll(
		func(name string) bool {
			p := op.BaseRequest()
			p.Set("Name", name)
			v := op.Evaluate(p, spec.Options{})
			ok := utf8.RuneCountInString(name) <= 128 && valid.MatchString(name)
			if ok {
				return v.Outcome == spec.Accept
			}
			return v.Outcome == spec.Reject && v.Allows(400, "InvalidParameter")
		},
		gen.OneGenOf(
			gen.Identifier(),
			gen.AnyString().SuchThat(func(s string) bool { return s != "" }),
			gen.SliceOfN(130, gen.AlphaChar()).Map(func(r []rune) string { return "N" + string(r) }),
			gen.RegexMatch(`[A-Za-z][A-Za-z0-9._ /-]{0,140}`),
		),
	))
	checkProperties(t, props)
}

func set(p url.Values, k, v string) {
	if v != "" {
		p.Set(k, v)
	}
}

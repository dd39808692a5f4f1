package spec_test

import (
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/eipconform/eipconform/spec"
	"github.com/google/go-cmp/cmp"
)

// outcome is the part of a verdict the tables pin down.
type outcome struct {
	Outcome string
	Codes   []string // "status Code" of the non-alternative errors, sorted
}

func summarize(v spec.Verdict) outcome {
	o := outcome{Outcome: v.Outcome.String()}
	for _, e := range v.Errors {
		if !e.Ambiguous {
			o.Codes = append(o.Codes, e.Ref().String())
		}
	}
	sort.Strings(o.Codes)
	return o
}

func accept() outcome { return outcome{Outcome: "accept"} }
func reject(codes ...string) outcome {
	sort.Strings(codes)
	return outcome{Outcome: "reject", Codes: codes}
}
func either(codes ...string) outcome {
	sort.Strings(codes)
	return outcome{Outcome: "either", Codes: codes}
}

// req builds a request for action from "k=v" pairs on top of its minimal valid request.
func req(t *testing.T, action string, kvs ...string) url.Values {
	t.Helper()
	op := spec.Default().Operation(action)
	if op == nil {
		t.Fatalf("no operation %s", action)
	}
	v := op.BaseRequest()
	for _, kv := range kvs {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("bad pair %q", kv)
		}
		if val == "<del>" {
			v.Del(k)
			continue
		}
		v.Set(k, val)
	}
	return v
}

type oracleCase struct {
	name   string
	action string
	kvs    []string
	opts   spec.Options
	want   outcome
}

func runOracle(t *testing.T, cases []oracleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			params := req(t, tc.action, tc.kvs...)
			v := spec.Default().Evaluate(params, tc.opts)
			if diff := cmp.Diff(tc.want, summarize(v)); diff != "" {
				t.Errorf("%s %s: verdict mismatch (-want +got):\n%s\nverdict: %s\nreproduce: go test ./spec -run '^%s$/^%s$'",
					tc.action, params.Encode(), diff, v, t.Name()[:strings.Index(t.Name(), "/")], tc.name)
			}
		})
	}
}

const inv = "400 InvalidParameter"

var prepaid = []string{"InstanceChargeType=PrePaid", "Period=1", "PricingCycle=Month", "AutoPay=true"}

func with(base []string, kvs ...string) []string {
	return append(append([]string(nil), base...), kvs...)
}

func TestBandwidthByChargeType(t *testing.T) {
	// Bandwidth at and across every bound under each charge-type combination (002): absent
	// charge types default to PostPaid + PayByBandwidth (1-500). 004 allows only PostPaid and
	// PayByTraffic, so sending PayByBandwidth or PrePaid explicitly is ambiguous where the
	// bandwidth is otherwise valid.
	type combo struct {
		name string
		kvs  []string
		in   func(bw int) bool
		ok   outcome // verdict for an in-range bandwidth
		bad  outcome // verdict for an out-of-range bandwidth
	}
	combos := []combo{
		{"defaults", nil, func(b int) bool { return b >= 1 && b <= 500 }, accept(), reject(inv)},
		{"PostPaid+PayByBandwidth", []string{"InstanceChargeType=PostPaid", "InternetChargeType=PayByBandwidth"},
			func(b int) bool { return b >= 1 && b <= 500 }, either(inv), reject(inv)},
		{"PostPaid+PayByTraffic", []string{"InstanceChargeType=PostPaid", "InternetChargeType=PayByTraffic"},
			func(b int) bool { return b >= 1 && b <= 200 }, accept(), reject(inv)},
		{"PrePaid+PayByBandwidth", with(prepaid, "InternetChargeType=PayByBandwidth"),
			func(b int) bool { return b >= 1 && b <= 1000 }, either(inv), reject(inv)},
		{"PrePaid+PayByTraffic", with(prepaid, "InternetChargeType=PayByTraffic"),
			func(b int) bool { return false }, reject(inv), reject(inv)},
	}
	var cases []oracleCase
	for _, c := range combos {
		for _, bw := range []int{0, 1, 200, 201, 500, 501, 1000, 1001} {
			want := c.bad
			if c.in(bw) {
				want = c.ok
			}
			cases = append(cases, oracleCase{
				name: c.name + "/" + itoa(bw), action: "AllocateEipAddress",
				kvs: with(c.kvs, "Bandwidth="+itoa(bw)), want: want,
			})
		}
	}
	cases = append(cases,
		oracleCase{name: "non-numeric", action: "AllocateEipAddress", kvs: []string{"Bandwidth=five"}, want: reject(inv)},
		oracleCase{name: "negative", action: "AllocateEipAddress", kvs: []string{"Bandwidth=-1"}, want: reject(inv)},
		oracleCase{name: "ModifyEipAddressAttribute/500", action: "ModifyEipAddressAttribute", kvs: []string{"Bandwidth=500"}, want: accept()},
		oracleCase{name: "ModifyEipAddressAttribute/501", action: "ModifyEipAddressAttribute", kvs: []string{"Bandwidth=501"}, want: reject(inv)},
		oracleCase{name: "ModifyEipAddressAttribute/0", action: "ModifyEipAddressAttribute", kvs: []string{"Bandwidth=0"}, want: reject(inv)},
	)
	runOracle(t, cases)
}

func TestSubscriptionRules(t *testing.T) {
	bare := []string{"InstanceChargeType=PrePaid", "InternetChargeType=PayByBandwidth"}
	runOracle(t, []oracleCase{
		{"month/0", "AllocateEipAddress", with(prepaid, "Period=0"), spec.Options{}, reject(inv)},
		{"month/1", "AllocateEipAddress", with(prepaid, "Period=1"), spec.Options{}, either(inv)},
		{"month/9", "AllocateEipAddress", with(prepaid, "Period=9"), spec.Options{}, either(inv)},
		{"month/10", "AllocateEipAddress", with(prepaid, "Period=10"), spec.Options{}, reject(inv)},
		{"year/5", "AllocateEipAddress", with(prepaid, "PricingCycle=Year", "Period=5"), spec.Options{}, either(inv)},
		{"year/6", "AllocateEipAddress", with(prepaid, "PricingCycle=Year", "Period=6"), spec.Options{}, reject(inv)},
		{"year/0", "AllocateEipAddress", with(prepaid, "PricingCycle=Year", "Period=0"), spec.Options{}, reject(inv)},
		{"cycle/Week", "AllocateEipAddress", with(prepaid, "PricingCycle=Week"), spec.Options{}, reject(inv)},
		{"period-missing", "AllocateEipAddress", with(bare, "PricingCycle=Month", "AutoPay=true"), spec.Options{}, reject("400 MissingParameter", inv)},
		{"pricingcycle-missing", "AllocateEipAddress", with(bare, "Period=1", "AutoPay=true"), spec.Options{}, either("400 MissingParameter", inv)},
		{"autopay-missing", "AllocateEipAddress", with(bare, "Period=1", "PricingCycle=Month"), spec.Options{}, either("400 MissingParameter", inv)},
		{"prepaid-with-traffic", "AllocateEipAddress", with(prepaid, "InternetChargeType=PayByTraffic"), spec.Options{}, reject(inv)},
		{"prepaid-with-name", "AllocateEipAddress", with(prepaid, "Name=EIP1"), spec.Options{}, reject(inv)},
		{"prepaid-with-description", "AllocateEipAddress", with(prepaid, "Description=test"), spec.Options{}, reject(inv)},
		{"postpaid-period-10", "AllocateEipAddress", []string{"InstanceChargeType=PostPaid", "Period=10"}, spec.Options{}, either(inv)},
		{"postpaid-period-1", "AllocateEipAddress", []string{"InstanceChargeType=PostPaid", "Period=1"}, spec.Options{}, accept()},
		{"autopay-yes", "AllocateEipAddress", []string{"AutoPay=yes"}, spec.Options{}, reject(inv)},
		{"autopay-True", "AllocateEipAddress", []string{"AutoPay=True"}, spec.Options{}, either(inv)},
	})
}

func TestNameAndDescription(t *testing.T) {
	long := func(n int) string { return "A" + strings.Repeat("b", n-1) }
	var cases []oracleCase
	for _, a := range []string{"AllocateEipAddress", "ModifyEipAddressAttribute"} {
		one := accept()
		if a == "ModifyEipAddressAttribute" {
			one = either(inv) // 004: 2 to 128; 002 and the metadata: 1 to 128
		}
		cases = append(cases,
			oracleCase{name: a + "/name-len0", action: a, kvs: []string{"Name="}, want: either(inv)},
			oracleCase{name: a + "/name-len1", action: a, kvs: []string{"Name=A"}, want: one},
			oracleCase{name: a + "/name-len2", action: a, kvs: []string{"Name=Ab"}, want: accept()},
			oracleCase{name: a + "/name-len128", action: a, kvs: []string{"Name=" + long(128)}, want: accept()},
			oracleCase{name: a + "/name-len129", action: a, kvs: []string{"Name=" + long(129)}, want: reject(inv)},
			oracleCase{name: a + "/name-digit-first", action: a, kvs: []string{"Name=1abc"}, want: reject(inv)},
			oracleCase{name: a + "/name-period-first", action: a, kvs: []string{"Name=.abc"}, want: reject(inv)},
			oracleCase{name: a + "/name-underscore-first", action: a, kvs: []string{"Name=_abc"}, want: reject(inv)},
			oracleCase{name: a + "/name-hyphen-first", action: a, kvs: []string{"Name=-abc"}, want: reject(inv)},
			oracleCase{name: a + "/name-punctuation-inside", action: a, kvs: []string{"Name=a.b_c-d"}, want: accept()},
			oracleCase{name: a + "/name-space-inside", action: a, kvs: []string{"Name=a b"}, want: reject(inv)},
			oracleCase{name: a + "/name-non-ascii-first", action: a, kvs: []string{"Name=Ébc"}, want: reject(inv)},
			oracleCase{name: a + "/name-non-ascii-inside", action: a, kvs: []string{"Name=abé"}, want: reject(inv)},
			oracleCase{name: a + "/desc-len1", action: a, kvs: []string{"Description=A"}, want: reject(inv)},
			oracleCase{name: a + "/desc-len2", action: a, kvs: []string{"Description=Ab"}, want: accept()},
			oracleCase{name: a + "/desc-len256", action: a, kvs: []string{"Description=" + long(256)}, want: accept()},
			oracleCase{name: a + "/desc-len257", action: a, kvs: []string{"Description=" + long(257)}, want: reject(inv)},
			oracleCase{name: a + "/desc-digit-first", action: a, kvs: []string{"Description=1 EIP"}, want: reject(inv)},
			oracleCase{name: a + "/desc-non-ascii-inside", action: a, kvs: []string{"Description=Web 前端"}, want: accept()},
			oracleCase{name: a + "/desc-http", action: a, kvs: []string{"Description=http://example.com"}, want: reject(inv)},
			oracleCase{name: a + "/desc-https", action: a, kvs: []string{"Description=https://example.com"}, want: reject(inv)},
			oracleCase{name: a + "/desc-HTTP", action: a, kvs: []string{"Description=HTTP://example.com"}, want: either(inv)},
			oracleCase{name: a + "/desc-httpd", action: a, kvs: []string{"Description=httpd server"}, want: accept()},
		)
	}
	runOracle(t, cases)
}

func TestISPZoneListsAndTokens(t *testing.T) {
	isp := "400 IllegalParam.Isp"
	ten := make([]string, 0, 11)
	for i := 1; i <= 11; i++ {
		ten = append(ten, "SecurityProtectionTypes."+itoa(i)+"=AntiDDoS_Enhanced")
	}
	runOracle(t, []oracleCase{
		{"isp/BGP", "AllocateEipAddress", []string{"ISP=BGP"}, spec.Options{}, accept()},
		{"isp/unknown", "AllocateEipAddress", []string{"ISP=Satellite"}, spec.Options{}, reject(isp)},
		{"isp/lowercase", "AllocateEipAddress", []string{"ISP=bgp"}, spec.Options{}, reject(isp)},
		{"isp/BGP_PRO-hangzhou", "AllocateEipAddress", []string{"ISP=BGP_PRO"}, spec.Options{}, reject(isp)},
		{"isp/BGP_PRO-singapore", "AllocateEipAddress", []string{"ISP=BGP_PRO", "RegionId=ap-southeast-1"}, spec.Options{}, accept()},
		{"isp/BGP_PRO-hongkong", "AllocateEipAddress", []string{"ISP=BGP_PRO", "RegionId=cn-hongkong"}, spec.Options{}, accept()},
		{"isp/single-line", "AllocateEipAddress", []string{"ISP=ChinaTelecom"}, spec.Options{}, either(isp)},
		{"isp/finance-region-default", "AllocateEipAddress", []string{"RegionId=cn-hangzhou-finance"}, spec.Options{}, reject(isp)},
		{"isp/finance-region", "AllocateEipAddress", []string{"RegionId=cn-hangzhou-finance", "ISP=BGP_FinanceCloud"}, spec.Options{}, accept()},
		{"isp/finance-elsewhere", "AllocateEipAddress", []string{"ISP=BGP_FinanceCloud"}, spec.Options{}, either(isp)},
		{"zone+pool", "AllocateEipAddress", []string{"Zone=ap-southeast-1-lzdvn-cb", "PublicIpAddressPoolId=pippool-1"}, spec.Options{}, reject("400 ExclusiveParam.ZoneAndPublicIpAddressPoolId")},
		{"zone-only", "AllocateEipAddress", []string{"Zone=ap-southeast-1-lzdvn-cb"}, spec.Options{}, accept()},
		{"pool-only", "AllocateEipAddress", []string{"PublicIpAddressPoolId=pippool-1"}, spec.Options{}, accept()},
		{"protection/10", "AllocateEipAddress", ten[:10], spec.Options{}, accept()},
		{"protection/11", "AllocateEipAddress", ten, spec.Options{}, reject(inv)},
		{"protection/index-11", "AllocateEipAddress", ten[10:], spec.Options{}, reject(inv)},
		{"protection/unknown-edition", "AllocateEipAddress", []string{"SecurityProtectionTypes.1=AntiDDoS_Ultra"}, spec.Options{}, reject(inv)},
		{"token/64", "AllocateEipAddress", []string{"ClientToken=" + strings.Repeat("t", 64)}, spec.Options{}, accept()},
		{"token/65", "AllocateEipAddress", []string{"ClientToken=" + strings.Repeat("t", 65)}, spec.Options{}, reject(inv)},
		{"token/non-ascii", "OpenVpcIpamService", []string{"ClientToken=tökén"}, spec.Options{}, reject(inv)},
		{"netmode/public", "AllocateEipAddress", []string{"Netmode=public"}, spec.Options{}, either(inv)}, // 004 spells it Public
		{"netmode/Public", "AllocateEipAddress", []string{"Netmode=Public"}, spec.Options{}, either(inv)},
		{"netmode/private", "AllocateEipAddress", []string{"Netmode=private"}, spec.Options{}, reject(inv)},
		{"unknown-parameter-ignored", "AllocateEipAddress", []string{"Colour=blue"}, spec.Options{}, accept()},
	})
}

func TestDescribeEipAddresses(t *testing.T) {
	a := "DescribeEipAddresses"
	runOracle(t, []oracleCase{
		{"page/0", a, []string{"PageNumber=0"}, spec.Options{}, reject(inv)},
		{"page/1", a, []string{"PageNumber=1"}, spec.Options{}, accept()},
		{"page/huge", a, []string{"PageNumber=2147483647"}, spec.Options{}, accept()},
		{"page/overflow", a, []string{"PageNumber=2147483648"}, spec.Options{}, reject(inv)},
		{"size/0", a, []string{"PageSize=0"}, spec.Options{}, reject(inv)},
		{"size/1", a, []string{"PageSize=1"}, spec.Options{}, accept()},
		{"size/50", a, []string{"PageSize=50"}, spec.Options{}, accept()},
		{"size/51", a, []string{"PageSize=51"}, spec.Options{}, either(inv)},
		{"size/100", a, []string{"PageSize=100"}, spec.Options{}, either(inv)},
		{"size/101", a, []string{"PageSize=101"}, spec.Options{}, reject(inv)},
		{"status/Available", a, []string{"Status=Available"}, spec.Options{}, accept()},
		{"status/InUse", a, []string{"Status=InUse"}, spec.Options{}, accept()},
		{"status/Associating", a, []string{"Status=Associating"}, spec.Options{}, accept()},
		{"status/Unassociating", a, []string{"Status=Unassociating"}, spec.Options{}, accept()},
		{"status/Releasing", a, []string{"Status=Releasing"}, spec.Options{}, either(inv)},
		{"status/Deleted", a, []string{"Status=Deleted"}, spec.Options{}, reject(inv)},
		{"charge/PostPaid", a, []string{"ChargeType=PostPaid"}, spec.Options{}, accept()},
		{"charge/PrePaid", a, []string{"ChargeType=PrePaid"}, spec.Options{}, either("400 InvalidChargeType.ValueNotSupported")},
		{"charge/Free", a, []string{"ChargeType=Free"}, spec.Options{}, reject("400 InvalidChargeType.ValueNotSupported")},
		{"assoc/EcsInstance", a, []string{"AssociatedInstanceType=EcsInstance"}, spec.Options{}, accept()},
		{"assoc/NetworkInterface", a, []string{"AssociatedInstanceType=NetworkInterface"}, spec.Options{}, either("400 InvalidIAssociatedInstanceType.ValueNotSupported")},
		{"assoc/Router", a, []string{"AssociatedInstanceType=Router"}, spec.Options{}, reject("400 InvalidIAssociatedInstanceType.ValueNotSupported")},
		{"lock/financial", a, []string{"LockReason=financial"}, spec.Options{}, accept()},
		{"lock/security", a, []string{"LockReason=security"}, spec.Options{}, accept()},
		{"lock/legal", a, []string{"LockReason=legal"}, spec.Options{}, reject("404 InvalidLockReason.NotFound")},
		{"filter/known-key", a, []string{"Filter.1.Key=CreationStartTime", "Filter.1.Value=2023-01-01T01:00Z"}, spec.Options{}, accept()},
		{"filter/unknown-key", a, []string{"Filter.1.Key=Colour", "Filter.1.Value=2023-01-01T01:00Z"}, spec.Options{}, either("404 InvalidFilterKey.NotFound")},
		{"filter/bad-value", a, []string{"Filter.1.Key=CreationStartTime", "Filter.1.Value=2023-01-01"}, spec.Options{}, either("404 InvalidFilterValue")},
		{"filter/three", a, []string{"Filter.3.Key=CreationStartTime"}, spec.Options{}, either("404 InvalidFilterKey.NotFound")},
		{"include/true", a, []string{"IncludeReservationData=true"}, spec.Options{}, accept()},
	})
}

func TestMonitorData(t *testing.T) {
	a := "DescribeEipMonitorData"
	span := func(start, end string, kvs ...string) []string {
		return append([]string{"StartTime=" + start, "EndTime=" + end}, kvs...)
	}
	runOracle(t, []oracleCase{
		{"period/60", a, []string{"Period=60"}, spec.Options{}, accept()},
		{"period/600", a, []string{"Period=600"}, spec.Options{}, either("400 InvalidPeriod.ValueNotSupported")}, // not in the metadata
		{"period/3600", a, []string{"Period=3600"}, spec.Options{}, accept()},
		{"period/300", a, []string{"Period=300"}, spec.Options{}, either("400 InvalidPeriod.ValueNotSupported")},
		{"period/900", a, []string{"Period=900"}, spec.Options{}, either("400 InvalidPeriod.ValueNotSupported")},
		{"period/120", a, []string{"Period=120"}, spec.Options{}, reject("400 InvalidPeriod.ValueNotSupported")},
		{"start/space", a, []string{"StartTime=2017-01-05 01:05:00"}, spec.Options{}, reject("400 InvalidStartTime.Malformed")},
		{"start/no-zone", a, []string{"StartTime=2017-01-05T01:05:00"}, spec.Options{}, reject("400 InvalidStartTime.Malformed")},
		{"start/month-13", a, []string{"StartTime=2017-13-05T01:05:00Z"}, spec.Options{}, reject("400 InvalidStartTime.Malformed")},
		{"end/garbage", a, []string{"EndTime=soon"}, spec.Options{}, reject("400 InvalidEndTime.Malformed")},
		{"end/missing", a, []string{"EndTime=<del>"}, spec.Options{}, reject("400 MissingParameter")},
		{"points/200", a, span("2017-01-05T00:00:00Z", "2017-01-05T03:20:00Z"), spec.Options{}, accept()},
		{"points/201", a, span("2017-01-05T00:00:00Z", "2017-01-05T03:21:00Z"), spec.Options{}, either("400 OperationDenied.TooManyDataQueried")},
		{"points/200-at-3600", a, span("2017-01-05T00:00:00Z", "2017-01-13T08:00:00Z", "Period=3600"), spec.Options{}, accept()},
		{"points/201-at-3600", a, span("2017-01-05T00:00:00Z", "2017-01-13T09:00:00Z", "Period=3600"), spec.Options{}, either("400 OperationDenied.TooManyDataQueried")},
		{"points/seconds-round-up", a, span("2017-01-05T00:00:30Z", "2017-01-05T03:20:30Z"), spec.Options{}, accept()},
		{"points/start-rounds-up", a, span("2017-01-05T00:00:01Z", "2017-01-05T03:21:00Z"), spec.Options{}, accept()},
		{"order/reversed", a, span("2017-01-05T02:05:05Z", "2017-01-05T01:05:10Z"), spec.Options{}, either("400 InvalidStartTime.Malformed")},
	})
}

func TestAssociationValues(t *testing.T) {
	runOracle(t, []oracleCase{
		{"associate/Nat", "AssociateEipAddress", []string{"InstanceType=Nat"}, spec.Options{}, accept()},
		{"associate/NetworkInterface+MULTI_BINDED", "AssociateEipAddress", []string{"InstanceType=NetworkInterface", "Mode=MULTI_BINDED"}, spec.Options{}, accept()},
		{"associate/HaVip", "AssociateEipAddress", []string{"InstanceType=HaVip"}, spec.Options{}, either("400 InvalidInstanceType.ValueNotSupported")},
		{"associate/Vm", "AssociateEipAddress", []string{"InstanceType=Vm"}, spec.Options{}, reject("400 InvalidInstanceType.ValueNotSupported")},
		{"associate/BINDED", "AssociateEipAddress", []string{"Mode=BINDED"}, spec.Options{}, either(inv)},
		{"associate/nat-lowercase", "AssociateEipAddress", []string{"Mode=nat"}, spec.Options{}, reject(inv)},
		{"associate/no-instance", "AssociateEipAddress", []string{"InstanceId=<del>"}, spec.Options{}, reject("400 MissingParameter")},
		{"associate/no-region", "AssociateEipAddress", []string{"RegionId=<del>"}, spec.Options{}, either("400 MissingParameter")},
		{"unassociate/SlbInstance", "UnassociateEipAddress", []string{"InstanceType=SlbInstance"}, spec.Options{}, accept()},
		{"unassociate/NetworkInterface", "UnassociateEipAddress", []string{"InstanceType=NetworkInterface"}, spec.Options{}, either("400 InvalidInstanceType.ValueNotSupported")},
		{"unassociate/no-instance", "UnassociateEipAddress", []string{"InstanceId=<del>"}, spec.Options{}, either("400 MissingParameter")},
		{"release/no-allocation", "ReleaseEipAddress", []string{"AllocationId=<del>"}, spec.Options{}, reject("400 MissingParameter")},
		{"ecs/ip", "AllocatePublicIpAddress", []string{"IpAddress=203.0.113.7"}, spec.Options{}, accept()},
		{"ecs/ip-octet-256", "AllocatePublicIpAddress", []string{"IpAddress=203.0.113.256"}, spec.Options{}, reject("400 InvalidIpAddress.Malformed")},
		{"ecs/ip-masked", "AllocatePublicIpAddress", []string{"IpAddress=112.124.**.**"}, spec.Options{}, reject("400 InvalidIpAddress.Malformed")},
		{"ecs/no-instance", "AllocatePublicIpAddress", []string{"InstanceId=<del>"}, spec.Options{}, reject("400 MissingParameter")},
		{"gateway/no-eni", "DescribeEipGatewayInfo", []string{"InstanceId=<del>"}, spec.Options{}, reject("400 MissingParameter")},
		{"pool/ok", "OpenPublicIpAddressPoolService", nil, spec.Options{}, accept()},
		{"ipam/ok", "OpenVpcIpamService", nil, spec.Options{}, accept()},
	})
}

func TestProtocol(t *testing.T) {
	auth := spec.Options{Auth: true}
	signed := []string{"AccessKeyId=testid", "Signature=abc=", "SignatureMethod=HMAC-SHA1", "SignatureVersion=1.0",
		"SignatureNonce=n-1", "Timestamp=2016-05-23T12:46:24Z"}
	runOracle(t, []oracleCase{
		{"no-auth-needed", "ReleaseEipAddress", nil, spec.Options{}, accept()},
		{"auth/complete", "ReleaseEipAddress", signed, auth, accept()},
		{"auth/no-signature", "ReleaseEipAddress", with(signed, "Signature=<del>"), auth, reject("400 MissingParameter")},
		{"auth/no-nonce", "ReleaseEipAddress", with(signed, "SignatureNonce=<del>"), auth, reject("400 MissingParameter")},
		{"auth/sha256", "ReleaseEipAddress", with(signed, "SignatureMethod=HMAC-SHA256"), auth, reject("400 InvalidSignatureMethod")},
		{"auth/version-2", "ReleaseEipAddress", with(signed, "SignatureVersion=2.0"), auth, reject("400 InvalidSignatureVersion")},
		{"auth/timestamp-malformed", "ReleaseEipAddress", with(signed, "Timestamp=2016-05-23 12:46:24"), auth, reject("400 InvalidTimeStamp.Format")},
		{"version/wrong", "ReleaseEipAddress", []string{"Version=2014-05-26"}, spec.Options{}, reject("400 InvalidVersion")},
		{"version/missing", "AllocatePublicIpAddress", []string{"Version=<del>"}, spec.Options{}, reject("400 MissingParameter")},
		{"format/XML", "ReleaseEipAddress", []string{"Format=XML"}, spec.Options{}, accept()},
		{"format/xml", "ReleaseEipAddress", []string{"Format=xml"}, spec.Options{}, either(inv)},
	})
	s := spec.Default()
	for _, tc := range []struct {
		name   string
		params url.Values
		want   outcome
	}{
		{"action/missing", url.Values{"Version": {"2016-04-28"}}, reject("400 MissingParameter")},
		{"action/unknown", url.Values{"Action": {"CreateVpc"}, "Version": {"2016-04-28"}}, reject("404 InvalidAction.NotFound")},
		{"action/case", url.Values{"Action": {"releaseeipaddress"}, "Version": {"2016-04-28"}}, reject("404 InvalidAction.NotFound")},
	} {
		if diff := cmp.Diff(tc.want, summarize(s.Evaluate(tc.params, spec.Options{}))); diff != "" {
			t.Errorf("%s: Evaluate(%s) mismatch (-want +got):\n%s", tc.name, tc.params.Encode(), diff)
		}
	}
}

func TestJudge(t *testing.T) {
	s := spec.Default()
	bad := s.Evaluate(req(t, "AllocateEipAddress", "Bandwidth=501"), spec.Options{})     // documented
	inferred := s.Evaluate(req(t, "DescribeEipAddresses", "PageSize=0"), spec.Options{}) // inferred
	amb := s.Evaluate(req(t, "DescribeEipAddresses", "PageSize=51"), spec.Options{})     // either
	ok := s.Evaluate(req(t, "DescribeEipAddresses"), spec.Options{})
	for _, tc := range []struct {
		name          string
		v             spec.Verdict
		status        int
		code          string
		strict        bool
		wantOK, wantA bool
	}{
		{"documented/exact", bad, 400, "InvalidParameter", false, true, false},
		{"documented/metadata-code", bad, 400, "InvalidBandwidth.Malformed", false, true, true},
		{"documented/other-code", bad, 400, "BadBandwidth", false, false, false},
		{"documented/other-status", bad, 404, "InvalidParameter", false, false, false},
		{"documented/success", bad, 200, "", false, false, false},
		{"documented/5xx", bad, 500, "InternalError", false, false, false},
		{"inferred/other-4xx", inferred, 400, "InvalidPageSize", false, true, true},
		{"inferred/other-4xx-strict", inferred, 400, "InvalidPageSize", true, false, false},
		{"inferred/exact-strict", inferred, 400, "InvalidParameter", true, true, false},
		{"inferred/5xx", inferred, 503, "ServiceUnavailable", false, false, false},
		{"either/success", amb, 200, "", false, true, true},
		{"either/code", amb, 400, "InvalidParameter", false, true, true},
		{"accept/success", ok, 200, "", false, true, false},
		{"accept/error", ok, 400, "InvalidParameter", false, false, false},
	} {
		j := tc.v.Judge(tc.status, tc.code, tc.strict)
		if j.OK != tc.wantOK || j.Ambiguous != tc.wantA {
			t.Errorf("%s: Judge(%d, %q, strict=%v) = ok %v ambiguous %v (%s), want ok %v ambiguous %v; verdict %s",
				tc.name, tc.status, tc.code, tc.strict, j.OK, j.Ambiguous, j.Reason, tc.wantOK, tc.wantA, tc.v)
		}
		if !j.OK && j.Reason == "" {
			t.Errorf("%s: a failed judgement must say why", tc.name)
		}
	}
}

func itoa(n int) string {
	const digits = "0123456789"
	if n < 0 {
		return "-" + itoa(-n)
	}
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}

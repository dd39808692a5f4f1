package emulator_test

import (
	"fmt"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/eipconform/eipconform/emulator"
	"github.com/eipconform/eipconform/spec"
	"github.com/google/go-cmp/cmp"
)

func TestEIPLifecycle(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	a := e.ok("AllocateEipAddress", "Name", "web", "InternetChargeType", "PayByTraffic", "Bandwidth", "10")
	id, ip := str(a, "AllocationId"), str(a, "EipAddress")
	if id == "" || ip == "" {
		t.Fatalf("AllocateEipAddress = %v, want AllocationId and EipAddress", a)
	}
	status := func() string {
		d := e.ok("DescribeEipAddresses", "AllocationId", id)
		items := d["EipAddresses"].(map[string]any)["EipAddress"].([]any)
		if len(items) != 1 {
			t.Fatalf("DescribeEipAddresses(%s) returned %d items, want 1", id, len(items))
		}
		return str(items[0].(map[string]any), "Status")
	}
	if got := status(); got != "Available" {
		t.Fatalf("after allocate: status %s, want Available", got)
	}
	e.ok("AssociateEipAddress", "AllocationId", id, "InstanceId", "i-emu-running-1")
	if got := status(); got != "InUse" {
		t.Fatalf("after associate: status %s, want InUse", got)
	}
	e.fails(spec.StateEipNotAvailable, "AssociateEipAddress", "AllocationId", id, "InstanceId", "i-emu-running-2")
	second := str(e.ok("AllocateEipAddress"), "AllocationId")
	e.fails(spec.StateInstanceHasEip, "AssociateEipAddress", "AllocationId", second, "InstanceId", "i-emu-running-1")
	e.fails(spec.StateEipNotAvailable, "ReleaseEipAddress", "AllocationId", id)
	e.fails(spec.StateEipNotBoundToInstance, "UnassociateEipAddress", "AllocationId", id, "InstanceId", "i-emu-running-2")
	e.fails(spec.StateInstanceNotFound, "UnassociateEipAddress", "AllocationId", id, "InstanceId", "i-nowhere")
	e.ok("UnassociateEipAddress", "AllocationId", id, "InstanceId", "i-emu-running-1")
	if got := status(); got != "Available" {
		t.Fatalf("after unassociate: status %s, want Available", got)
	}
	e.fails(spec.StateEipNotInUse, "UnassociateEipAddress", "AllocationId", id, "InstanceId", "i-emu-running-1")
	e.ok("ReleaseEipAddress", "AllocationId", id)
	// Use after release.
	for _, action := range []string{"ReleaseEipAddress", "AssociateEipAddress", "ModifyEipAddressAttribute", "DescribeEipMonitorData"} {
		e.fails(spec.StateEipNotFound, action, "AllocationId", id, "InstanceId", "i-emu-running-1",
			"StartTime", "2026-11-23T10:00:00Z", "EndTime", "2026-11-23T11:00:00Z")
	}
	if d := e.ok("DescribeEipAddresses", "AllocationId", id); d["TotalCount"] != float64(0) {
		t.Errorf("DescribeEipAddresses(released %s): TotalCount %v, want 0", id, d["TotalCount"])
	}
}

func TestAssociateInstanceStates(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	alloc := func() string { return str(e.ok("AllocateEipAddress"), "AllocationId") }
	e.ok("AssociateEipAddress", "AllocationId", alloc(), "InstanceId", "i-emu-stopped")
	for _, tc := range []struct {
		instance string
		kind     spec.StateKind
	}{
		{"i-emu-starting", spec.StateInstanceStatus},
		{"i-emu-classic", spec.StateInstanceNotVPC},
		{"i-emu-beijing", spec.StateRegionMismatch},
		{"i-nowhere", spec.StateInstanceNotFound},
	} {
		e.fails(tc.kind, "AssociateEipAddress", "AllocationId", alloc(), "InstanceId", tc.instance)
	}
	e.fails(spec.StateRegionUnknown, "AssociateEipAddress", "RegionId", "xx-nowhere-1", "AllocationId", alloc(), "InstanceId", "i-emu-running-3")
	e.fails(spec.StateEipNotFound, "AssociateEipAddress", "AllocationId", "eip-nowhere", "InstanceId", "i-emu-running-3")
}

func TestGatewayInfoForMultiBindedENI(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	var ips []string
	for range 2 {
		a := e.ok("AllocateEipAddress")
		ips = append(ips, str(a, "EipAddress"))
		e.ok("AssociateEipAddress", "AllocationId", str(a, "AllocationId"), "InstanceId", "eni-emu-multi-1",
			"InstanceType", "NetworkInterface", "Mode", "MULTI_BINDED")
	}
	g := e.ok("DescribeEipGatewayInfo", "InstanceId", "eni-emu-multi-1")
	var got []string
	for _, it := range g["EipInfos"].(map[string]any)["EipInfo"].([]any) {
		m := it.(map[string]any)
		got = append(got, str(m, "Ip"))
		if str(m, "IpMask") != "255.255.255.0" || str(m, "IpGw") == "" {
			t.Errorf("EipInfo %v: want a gateway and mask 255.255.255.0", m)
		}
	}
	sort.Strings(ips)
	if diff := cmp.Diff(ips, got); diff != "" {
		t.Errorf("DescribeEipGatewayInfo addresses mismatch (-want +got):\n%s", diff)
	}
	e.fails(spec.StateEniNotFound, "DescribeEipGatewayInfo", "InstanceId", "eni-nowhere")
	// NAT mode allows one EIP per ENI.
	a := str(e.ok("AllocateEipAddress"), "AllocationId")
	e.fails(spec.StateInstanceHasEip, "AssociateEipAddress", "AllocationId", a, "InstanceId", "eni-emu-multi-1", "InstanceType", "NetworkInterface")
}

func TestECSPublicIP(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	ip := str(e.ok("AllocatePublicIpAddress", "InstanceId", "i-emu-running-1"), "IpAddress")
	if ip == "" {
		t.Fatal("AllocatePublicIpAddress returned no IpAddress")
	}
	e.fails(spec.StateInstanceHasPublicIP, "AllocatePublicIpAddress", "InstanceId", "i-emu-running-1")
	e.ok("AllocatePublicIpAddress", "InstanceId", "i-emu-stopped")
	for _, tc := range []struct {
		instance string
		kind     spec.StateKind
	}{
		{"i-emu-locked", spec.StateInstanceLocked},
		{"i-emu-expired", spec.StateInstanceExpired},
		{"i-emu-starting", spec.StateInstanceStatus},
		{"i-emu-nobandwidth", spec.StateInstanceZeroBandwidth},
		{"i-nowhere", spec.StateInstanceNotFound},
	} {
		e.fails(tc.kind, "AllocatePublicIpAddress", "InstanceId", tc.instance)
	}
	e.fails(spec.StateIPInUse, "AllocatePublicIpAddress", "InstanceId", "i-emu-running-2", "IpAddress", ip)
	e.fails(spec.StateVlanNotFound, "AllocatePublicIpAddress", "InstanceId", "i-emu-running-2", "VlanId", "100")
	// An instance with a public IP cannot take an EIP.
	a := str(e.ok("AllocateEipAddress"), "AllocationId")
	e.fails(spec.StateInstanceHasEip, "AssociateEipAddress", "AllocationId", a, "InstanceId", "i-emu-running-1")
}

func TestClientTokenIdempotency(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	first := e.ok("AllocateEipAddress", "ClientToken", "tok-1")
	again := e.ok("AllocateEipAddress", "ClientToken", "tok-1")
	for _, k := range []string{"AllocationId", "EipAddress"} {
		if first[k] != again[k] {
			t.Errorf("same ClientToken: %s %v then %v, want the same", k, first[k], again[k])
		}
	}
	if first["RequestId"] == again["RequestId"] {
		t.Errorf("same ClientToken: both answers carry RequestId %v; every request has its own", first["RequestId"])
	}
	other := e.ok("AllocateEipAddress", "ClientToken", "tok-2")
	if other["AllocationId"] == first["AllocationId"] {
		t.Errorf("different ClientToken: AllocationId %v reused", other["AllocationId"])
	}
	if d := e.ok("DescribeEipAddresses"); d["TotalCount"] != float64(2) {
		t.Errorf("after two tokens and a repeat: TotalCount %v, want 2", d["TotalCount"])
	}
}

func TestQuota(t *testing.T) {
	w := emulator.DefaultWorld()
	w.Regions[0].EipQuota = 2
	e := newEnv(t, emulator.Options{World: &w})
	e.ok("AllocateEipAddress")
	id := str(e.ok("AllocateEipAddress"), "AllocationId")
	e.fails(spec.StateQuotaExceeded, "AllocateEipAddress")
	e.ok("AllocateEipAddress", "RegionId", "cn-beijing") // the quota is per region
	e.ok("ReleaseEipAddress", "AllocationId", id)
	e.ok("AllocateEipAddress")
}

func TestReallocation(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	a := e.ok("AllocateEipAddress")
	id, ip := str(a, "AllocationId"), str(a, "EipAddress")
	e.fails(spec.StateIPInUse, "AllocateEipAddress", "IpAddress", ip)
	e.ok("ReleaseEipAddress", "AllocationId", id)
	fresh := e.ok("AllocateEipAddress")
	if str(fresh, "EipAddress") == ip {
		t.Errorf("a recently released address %s was handed to a new allocation", ip)
	}
	back := e.ok("AllocateEipAddress", "IpAddress", ip)
	if str(back, "EipAddress") != ip {
		t.Errorf("re-allocation by IpAddress: got %s, want %s", str(back, "EipAddress"), ip)
	}
	e.fails(spec.StateIPNotRecentlyReleased, "AllocateEipAddress", "IpAddress", "203.0.113.250")
	// By InstanceId (the EIP's ID), and only within seven days.
	b := e.ok("AllocateEipAddress")
	e.ok("ReleaseEipAddress", "AllocationId", str(b, "AllocationId"))
	e.clock.add(7*24*time.Hour + time.Second)
	e.client.Now = e.clock.now
	e.fails(spec.StateIPNotRecentlyReleased, "AllocateEipAddress", "InstanceId", str(b, "AllocationId"))
}

func TestPagination(t *testing.T) {
	w := emulator.DefaultWorld()
	w.Regions[0].EipQuota = 30
	e := newEnv(t, emulator.Options{World: &w})
	want := map[string]bool{}
	for i := range 23 {
		e.clock.add(time.Second)
		want[str(e.ok("AllocateEipAddress", "Name", "n"+strconv.Itoa(i)), "AllocationId")] = true
	}
	seen := map[string]int{}
	for page := 1; page <= 4; page++ {
		d := e.ok("DescribeEipAddresses", "PageSize", "10", "PageNumber", strconv.Itoa(page))
		if d["TotalCount"] != float64(23) || d["PageNumber"] != float64(page) || d["PageSize"] != float64(10) {
			t.Errorf("page %d: TotalCount %v PageNumber %v PageSize %v, want 23 %d 10", page, d["TotalCount"], d["PageNumber"], d["PageSize"], page)
		}
		items := d["EipAddresses"].(map[string]any)["EipAddress"].([]any)
		wantLen := map[int]int{1: 10, 2: 10, 3: 3, 4: 0}[page]
		if len(items) != wantLen {
			t.Errorf("page %d: %d items, want %d", page, len(items), wantLen)
		}
		for _, it := range items {
			seen[str(it.(map[string]any), "AllocationId")]++
		}
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("EIP %s appeared on %d pages, want exactly 1", id, seen[id])
		}
	}
	if d := e.ok("DescribeEipAddresses"); len(d["EipAddresses"].(map[string]any)["EipAddress"].([]any)) != 10 {
		t.Errorf("default PageSize: want 10 items")
	}
}

func TestDescribeFilters(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	a := str(e.ok("AllocateEipAddress", "ResourceGroupId", "rg-emu-test"), "AllocationId")
	b := str(e.ok("AllocateEipAddress"), "AllocationId")
	e.ok("AssociateEipAddress", "AllocationId", b, "InstanceId", "i-emu-running-1")
	for _, tc := range []struct {
		kv   []string
		want []string
	}{
		{[]string{"Status", "InUse"}, []string{b}},
		{[]string{"Status", "Available"}, []string{a}},
		{[]string{"AssociatedInstanceId", "i-emu-running-1"}, []string{b}},
		{[]string{"AssociatedInstanceType", "EcsInstance"}, []string{b}},
		{[]string{"ResourceGroupId", "rg-emu-test"}, []string{a}},
		{[]string{"AllocationId", a + "," + b}, []string{a, b}},
		{[]string{"ChargeType", "PostPaid"}, []string{a, b}},
		{[]string{"LockReason", "financial"}, nil},
	} {
		d := e.ok("DescribeEipAddresses", tc.kv...)
		var got []string
		for _, it := range d["EipAddresses"].(map[string]any)["EipAddress"].([]any) {
			got = append(got, str(it.(map[string]any), "AllocationId"))
		}
		sort.Strings(got)
		sort.Strings(tc.want)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("DescribeEipAddresses %v mismatch (-want +got):\n%s", tc.kv, diff)
		}
	}
	e.fails(spec.StateRegionUnknown, "DescribeEipAddresses", "RegionId", "xx-nowhere-1")
}

func TestPrepaidAndModify(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	p := e.ok("AllocateEipAddress", "InstanceChargeType", "PrePaid", "InternetChargeType", "PayByBandwidth",
		"Period", "1", "PricingCycle", "Month", "AutoPay", "true", "Bandwidth", "800")
	if p["OrderId"] == nil || p["EipAddress"] != nil {
		t.Errorf("PrePaid allocation = %v, want an OrderId and no EipAddress (002)", p)
	}
	e.fails(spec.StateEipPrepaid, "ReleaseEipAddress", "AllocationId", str(p, "AllocationId"))

	traffic := str(e.ok("AllocateEipAddress", "InternetChargeType", "PayByTraffic"), "AllocationId")
	e.fails(spec.StateBandwidthForMetering, "ModifyEipAddressAttribute", "AllocationId", traffic, "Bandwidth", "201")
	e.ok("ModifyEipAddressAttribute", "AllocationId", traffic, "Bandwidth", "200", "Name", "renamed", "Description", "Changed")
	d := e.ok("DescribeEipAddresses", "AllocationId", traffic)
	it := d["EipAddresses"].(map[string]any)["EipAddress"].([]any)[0].(map[string]any)
	if str(it, "Bandwidth") != "200" || str(it, "Name") != "renamed" || str(it, "Description") != "Changed" {
		t.Errorf("after modify: %v, want Bandwidth 200, Name renamed, Description Changed", it)
	}
	bw := str(e.ok("AllocateEipAddress", "InternetChargeType", "PayByBandwidth"), "AllocationId")
	e.ok("ModifyEipAddressAttribute", "AllocationId", bw, "Bandwidth", "500")
	e.failsWith(400, "InvalidParameter", "ModifyEipAddressAttribute", "AllocationId", bw, "Bandwidth", "501")
}

func TestMonitorData(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	id := str(e.ok("AllocateEipAddress"), "AllocationId")
	series := func(kv ...string) []any {
		d := e.ok("DescribeEipMonitorData", append([]string{"AllocationId", id}, kv...)...)
		return d["EipMonitorDatas"].(map[string]any)["EipMonitorData"].([]any)
	}
	for _, tc := range []struct {
		start, end, period string
		want               int
	}{
		{"2026-11-23T10:00:00Z", "2026-11-23T11:00:00Z", "60", 60},
		{"2026-11-23T10:00:00Z", "2026-11-23T11:00:00Z", "600", 6},
		{"2026-11-23T10:00:00Z", "2026-11-23T13:20:00Z", "", 200},
		{"2026-11-23T10:00:00Z", "2026-11-23T13:30:00Z", "", 200}, // 210 points: the limit
		{"2026-11-23T10:00:30Z", "2026-11-23T10:05:30Z", "60", 5}, // seconds round up
		{"2026-11-23T10:00:00Z", "2026-11-23T10:00:00Z", "60", 1}, // the point at the start
		{"2026-11-23T11:00:00Z", "2026-11-23T10:00:00Z", "60", 0}, // reversed
	} {
		kv := []string{"StartTime", tc.start, "EndTime", tc.end}
		if tc.period != "" {
			kv = append(kv, "Period", tc.period)
		}
		pts := series(kv...)
		if len(pts) != tc.want {
			t.Errorf("%s..%s period %q: %d points, want %d", tc.start, tc.end, tc.period, len(pts), tc.want)
			continue
		}
		if len(pts) >= 2 {
			t0, _ := time.Parse(time.RFC3339, str(pts[0].(map[string]any), "TimeStamp"))
			t1, _ := time.Parse(time.RFC3339, str(pts[1].(map[string]any), "TimeStamp"))
			if p := t1.Sub(t0); tc.period != "" && fmt.Sprint(int(p.Seconds())) != tc.period {
				t.Errorf("%s..%s: points %s apart, want Period %s", tc.start, tc.end, p, tc.period)
			}
		}
	}
	a := series("StartTime", "2026-11-23T10:00:00Z", "EndTime", "2026-11-23T10:10:00Z")
	b := series("StartTime", "2026-11-23T10:00:00Z", "EndTime", "2026-11-23T10:10:00Z")
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("the series is not deterministic (-first +second):\n%s", diff)
	}
}

func TestOpenServicesOnce(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	for range 2 {
		if r := e.ok("OpenVpcIpamService"); str(r, "Code") != "200" || str(r, "Message") != "successful" {
			t.Errorf("OpenVpcIpamService = %v, want Code 200 and Message successful", r)
		}
	}
	e.fails(spec.StatePoolUnusable, "AllocateEipAddress", "PublicIpAddressPoolId", "pippool-emu-1")
	e.ok("OpenPublicIpAddressPoolService")
	e.ok("OpenPublicIpAddressPoolService")
	e.ok("AllocateEipAddress", "PublicIpAddressPoolId", "pippool-emu-1")
	e.fails(spec.StatePoolUnusable, "AllocateEipAddress", "PublicIpAddressPoolId", "pippool-other")
}

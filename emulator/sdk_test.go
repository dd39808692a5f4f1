package emulator_test

// The emulator driven by Alibaba Cloud's own Go SDK (github.com/aliyun/alibaba-cloud-sdk-go),
// signatures on: the SDK builds, signs and parses every request and answer itself, so these
// tests catch what a hand-written client would not (field names, list shapes, XML roots,
// error bodies, the string to sign, retries).
//
// The SDK is pointed at the test server with client.Domain = "127.0.0.1:PORT" (a request's
// own Domain would override it); the scheme comes from the client config, whose default is
// HTTP. Nothing leaves the loopback interface.

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/eipconform/eipconform/emulator"
	"github.com/eipconform/eipconform/spec"
)

// sdkAnswered is one request the emulator answered, as a wrapping handler saw it.
type sdkAnswered struct {
	Method string
	Action string
	Status int
}

// sdkRecorder wraps the emulator and notes every request's method, action and status. It notes
// the status when the emulator writes the header, before any byte reaches the client, so a
// test reading it after the SDK call returns sees every request of that call.
type sdkRecorder struct {
	next http.Handler
	mu   sync.Mutex
	seen []sdkAnswered
}

func (rec *sdkRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The SDK puts Action (and every signed parameter) in the query, GET and POST alike.
	sw := &sdkStatusWriter{ResponseWriter: w, rec: rec, a: sdkAnswered{Method: r.Method, Action: r.URL.Query().Get("Action")}}
	rec.next.ServeHTTP(sw, r)
	sw.note(http.StatusOK)
}

// calls returns what the emulator answered to action, in order.
func (rec *sdkRecorder) calls(action string) []sdkAnswered {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []sdkAnswered
	for _, a := range rec.seen {
		if a.Action == action {
			out = append(out, a)
		}
	}
	return out
}

// statuses returns the statuses the emulator answered action with, in order.
func (rec *sdkRecorder) statuses(action string) []int {
	var out []int
	for _, a := range rec.calls(action) {
		out = append(out, a.Status)
	}
	return out
}

type sdkStatusWriter struct {
	http.ResponseWriter
	rec  *sdkRecorder
	a    sdkAnswered
	done bool
}

func (w *sdkStatusWriter) note(status int) {
	if w.done {
		return
	}
	w.done = true
	w.a.Status = status
	w.rec.mu.Lock()
	w.rec.seen = append(w.rec.seen, w.a)
	w.rec.mu.Unlock()
}

func (w *sdkStatusWriter) WriteHeader(status int) {
	w.note(status)
	w.ResponseWriter.WriteHeader(status)
}

func (w *sdkStatusWriter) Write(b []byte) (int, error) {
	w.note(http.StatusOK)
	return w.ResponseWriter.Write(b)
}

// sdkEnv is an emulator behind a recorder behind an httptest server.
type sdkEnv struct {
	srv   *emulator.Server
	url   string // http://127.0.0.1:PORT
	host  string // 127.0.0.1:PORT, what the SDK calls the Domain
	rec   *sdkRecorder
	conns atomic.Int32 // connections the server accepted
}

func newSDKEnv(t *testing.T, opts emulator.Options) *sdkEnv {
	t.Helper()
	srv, err := emulator.New(opts)
	if err != nil {
		t.Fatalf("emulator.New: %v", err)
	}
	e := &sdkEnv{srv: srv, rec: &sdkRecorder{next: srv}}
	ts := httptest.NewUnstartedServer(e.rec)
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			e.conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	e.url, e.host = ts.URL, strings.TrimPrefix(ts.URL, "http://")
	return e
}

// sdkKey is the key the emulator accepts by default.
func sdkKey() (id, secret string) {
	sig := spec.Default().Signature
	return sig.ExampleAccessKeyID, sig.ExampleAccessKeySecret
}

// sdkNoRetry is the SDK's default config (AutoRetry off), spelled out: a retry would hide the
// 5xx answers some tests expect.
func sdkNoRetry() *sdk.Config { return sdk.NewConfig().WithAutoRetry(false) }

// vpcWith returns a Vpc client for region cn-hangzhou that sends every request to the emulator.
func (e *sdkEnv) vpcWith(t *testing.T, cfg *sdk.Config, id, secret string) *vpc.Client {
	t.Helper()
	c, err := vpc.NewClientWithOptions("cn-hangzhou", cfg, credentials.NewAccessKeyCredential(id, secret))
	if err != nil {
		t.Fatalf("vpc.NewClientWithOptions: %v", err)
	}
	c.Domain = e.host
	return c
}

// vpc returns a Vpc client with the example key and no retries.
func (e *sdkEnv) vpc(t *testing.T) *vpc.Client {
	t.Helper()
	id, secret := sdkKey()
	return e.vpcWith(t, sdkNoRetry(), id, secret)
}

// ecs returns an Ecs client with the example key and no retries.
func (e *sdkEnv) ecs(t *testing.T) *ecs.Client {
	t.Helper()
	id, secret := sdkKey()
	c, err := ecs.NewClientWithOptions("cn-hangzhou", sdkNoRetry(), credentials.NewAccessKeyCredential(id, secret))
	if err != nil {
		t.Fatalf("ecs.NewClientWithOptions: %v", err)
	}
	c.Domain = e.host
	return c
}

// sdkRerun is the command that runs the failing test alone.
func sdkRerun(t *testing.T) string {
	parts := strings.Split(t.Name(), "/")
	for i, p := range parts {
		parts[i] = "^" + p + "$"
	}
	return fmt.Sprintf("rerun: go test -race -run '%s' ./emulator/", strings.Join(parts, "/"))
}

// Spec look-ups: every expected error comes from the contract, never from the test.

func sdkRuleError(t *testing.T, action, rule string) spec.ErrorRef {
	t.Helper()
	r := opOf(action).Rule(rule)
	if r == nil {
		t.Fatalf("test bug: %s has no rule %s", action, rule)
	}
	return r.Error
}

func sdkStateError(t *testing.T, action string, kind spec.StateKind) spec.ErrorRef {
	t.Helper()
	r := opOf(action).StateRule(kind)
	if r == nil || r.Error == nil {
		t.Fatalf("test bug: %s has no state rule %s with an error", action, kind)
	}
	return *r.Error
}

func sdkTableError(t *testing.T, action, code string) spec.ErrorRef {
	t.Helper()
	e, ok := opOf(action).Error(code)
	if !ok {
		t.Fatalf("test bug: %s's error table has no %s", action, code)
	}
	return e.Ref()
}

func sdkProtocolError(t *testing.T, id string) spec.ErrorRef {
	t.Helper()
	e, ok := spec.Default().ProtocolError(id)
	if !ok {
		t.Fatalf("test bug: the spec has no protocol error %s", id)
	}
	return e.Ref()
}

// sdkExampleString returns a top-level string field of the operation's first success example.
func sdkExampleString(t *testing.T, action, field string) string {
	t.Helper()
	op := opOf(action)
	if len(op.Examples) == 0 {
		t.Fatalf("test bug: %s has no example", action)
	}
	s, _ := op.Examples[0].Value.(map[string]any)[field].(string)
	if s == "" {
		t.Fatalf("test bug: %s's example has no string %s", action, field)
	}
	return s
}

// sdkServerError requires err to be an SDK ServerError with want's status and code.
func sdkServerError(t *testing.T, what string, err error, want spec.ErrorRef) *sdkerrors.ServerError {
	t.Helper()
	var se *sdkerrors.ServerError
	if !errors.As(err, &se) {
		t.Fatalf("%s: got %v (%T), want an SDK *errors.ServerError %s\n%s", what, err, err, want, sdkRerun(t))
	}
	if got := (spec.ErrorRef{Status: se.HttpStatus(), Code: se.ErrorCode()}); got != want {
		t.Fatalf("%s: got ServerError %s, want %s\nmessage: %s\n%s", what, got, want, se.Message(), sdkRerun(t))
	}
	if se.RequestId() == "" || se.HostId() == "" {
		t.Errorf("%s: ServerError RequestId %q HostId %q, want both set from the error body\n%s", what, se.RequestId(), se.HostId(), sdkRerun(t))
	}
	return se
}

// sdkMust fails the test on an SDK error.
func sdkMust(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v\n%s", what, err, sdkRerun(t))
	}
}

func sdkAllocate(t *testing.T, c *vpc.Client, format string) *vpc.AllocateEipAddressResponse {
	t.Helper()
	r := vpc.CreateAllocateEipAddressRequest()
	r.AcceptFormat = format
	a, err := c.AllocateEipAddress(r)
	sdkMust(t, "AllocateEipAddress", err)
	if a.AllocationId == "" || a.EipAddress == "" {
		t.Fatalf("AllocateEipAddress: AllocationId %q EipAddress %q, want both\nbody: %s", a.AllocationId, a.EipAddress, a.GetHttpContentString())
	}
	return a
}

func sdkAssociate(t *testing.T, c *vpc.Client, format, id, instance, kind, mode string) {
	t.Helper()
	r := vpc.CreateAssociateEipAddressRequest()
	r.AcceptFormat, r.AllocationId, r.InstanceId, r.InstanceType, r.Mode = format, id, instance, kind, mode
	_, err := c.AssociateEipAddress(r)
	sdkMust(t, fmt.Sprintf("AssociateEipAddress(%s, %s)", id, instance), err)
}

func sdkDescribe(t *testing.T, c *vpc.Client, format, id string) *vpc.DescribeEipAddressesResponse {
	t.Helper()
	r := vpc.CreateDescribeEipAddressesRequest()
	r.AcceptFormat, r.AllocationId = format, id
	d, err := c.DescribeEipAddresses(r)
	sdkMust(t, fmt.Sprintf("DescribeEipAddresses(%s)", id), err)
	return d
}

// sdkEipOnly compares a DescribeEipAddresses item with the fields the emulator sets;
// AllocationTime is the server's clock. A JSON [] and an XML absence both read as empty.
var sdkEipOnly = []cmp.Option{cmpopts.IgnoreFields(vpc.EipAddress{}, "AllocationTime"), cmpopts.EquateEmpty()}

// TestSDKOperations calls every one of the eleven operations through the SDK's typed requests
// (and a CommonRequest for VpcIpam, which the SDK has no typed client for here), in JSON and
// in XML, and checks the typed responses carry what the emulator did.
func TestSDKOperations(t *testing.T) {
	for _, format := range []string{"JSON", "XML"} {
		t.Run(format, func(t *testing.T) {
			e := newSDKEnv(t, emulator.Options{})
			c := e.vpc(t)

			// OpenPublicIpAddressPoolService and OpenVpcIpamService answer Code and Message as
			// the documents' examples do.
			for _, action := range []string{"OpenPublicIpAddressPoolService", "OpenVpcIpamService"} {
				want := sdkCodeMessage{Code: sdkExampleString(t, action, "Code"), Message: sdkExampleString(t, action, "Message")}
				got := sdkOpenService(t, c, format, action)
				if got.RequestId == "" {
					t.Errorf("%s (%s): no RequestId\n%s", action, format, sdkRerun(t))
				}
				got.RequestId = ""
				if got != want {
					t.Errorf("%s (%s): got %+v, want %+v\n%s", action, format, got, want, sdkRerun(t))
				}
			}

			// AllocateEipAddress, twice: plain and from the pool the service opened.
			ar := vpc.CreateAllocateEipAddressRequest()
			ar.AcceptFormat, ar.Name, ar.InternetChargeType, ar.Bandwidth = format, "sdk-web", "PayByTraffic", "10"
			a, err := c.AllocateEipAddress(ar)
			sdkMust(t, "AllocateEipAddress", err)
			w := emulator.DefaultWorld()
			if a.AllocationId == "" || a.RequestId == "" || !sdkIsIP(a.EipAddress) || a.ResourceGroupId != w.ResourceGroups[0] {
				t.Fatalf("AllocateEipAddress (%s): AllocationId %q RequestId %q EipAddress %q ResourceGroupId %q; want an ID, a request ID, an IPv4 address and the default group %s\nbody: %s\n%s",
					format, a.AllocationId, a.RequestId, a.EipAddress, a.ResourceGroupId, w.ResourceGroups[0], a.GetHttpContentString(), sdkRerun(t))
			}
			pr := vpc.CreateAllocateEipAddressRequest()
			pr.AcceptFormat, pr.PublicIpAddressPoolId = format, w.PublicIPAddressPools[0]
			p, err := c.AllocateEipAddress(pr)
			sdkMust(t, "AllocateEipAddress from the pool after OpenPublicIpAddressPoolService", err)

			// AssociateEipAddress, then DescribeEipAddresses shows the whole item.
			sdkAssociate(t, c, format, a.AllocationId, "i-emu-running-1", "", "")
			d := sdkDescribe(t, c, format, a.AllocationId)
			want := vpc.EipAddress{
				AllocationId: a.AllocationId, IpAddress: a.EipAddress, RegionId: "cn-hangzhou", Status: "InUse",
				Name: "sdk-web", Bandwidth: "10", ChargeType: "PostPaid", InternetChargeType: "PayByTraffic",
				ISP: opOf("AllocateEipAddress").Parameter("ISP").Default, ResourceGroupId: w.ResourceGroups[0],
				InstanceId: "i-emu-running-1", InstanceType: "EcsInstance", InstanceRegionId: "cn-hangzhou",
				Mode:             opOf("AssociateEipAddress").Parameter("Mode").Default,
				AvailableRegions: vpc.AvailableRegions{AvailableRegion: []string{"cn-hangzhou"}},
			}
			if d.TotalCount != 1 || d.PageNumber != 1 || d.RequestId == "" || len(d.EipAddresses.EipAddress) != 1 {
				t.Fatalf("DescribeEipAddresses(%s) (%s): TotalCount %d PageNumber %d RequestId %q, %d items; want 1, 1, set, 1\nbody: %s\n%s",
					a.AllocationId, format, d.TotalCount, d.PageNumber, d.RequestId, len(d.EipAddresses.EipAddress), d.GetHttpContentString(), sdkRerun(t))
			}
			if diff := cmp.Diff(want, d.EipAddresses.EipAddress[0], sdkEipOnly...); diff != "" {
				t.Errorf("DescribeEipAddresses(%s) (%s) item mismatch (-want +got):\n%s\nbody: %s\n%s", a.AllocationId, format, diff, d.GetHttpContentString(), sdkRerun(t))
			}
			if _, err := time.Parse(time.RFC3339, d.EipAddresses.EipAddress[0].AllocationTime); err != nil {
				t.Errorf("DescribeEipAddresses (%s): AllocationTime %q: %v", format, d.EipAddresses.EipAddress[0].AllocationTime, err)
			}
			all := vpc.CreateDescribeEipAddressesRequest()
			all.AcceptFormat = format
			da, err := c.DescribeEipAddresses(all)
			sdkMust(t, "DescribeEipAddresses", err)
			if got := sdkEipIDs(da); da.TotalCount != 2 || !cmp.Equal(got, sdkSorted(a.AllocationId, p.AllocationId)) {
				t.Errorf("DescribeEipAddresses (%s): TotalCount %d, IDs %v; want 2, %v\n%s", format, da.TotalCount, got, sdkSorted(a.AllocationId, p.AllocationId), sdkRerun(t))
			}

			// ModifyEipAddressAttribute changes what DescribeEipAddresses shows.
			mr := vpc.CreateModifyEipAddressAttributeRequest()
			mr.AcceptFormat, mr.AllocationId, mr.Name, mr.Description, mr.Bandwidth = format, a.AllocationId, "sdk-renamed", "changed by the SDK", "20"
			_, err = c.ModifyEipAddressAttribute(mr)
			sdkMust(t, "ModifyEipAddressAttribute", err)
			want.Name, want.Description, want.Bandwidth = "sdk-renamed", "changed by the SDK", "20"
			if diff := cmp.Diff(want, sdkDescribe(t, c, format, a.AllocationId).EipAddresses.EipAddress[0], sdkEipOnly...); diff != "" {
				t.Errorf("after ModifyEipAddressAttribute (%s), item mismatch (-want +got):\n%s\n%s", format, diff, sdkRerun(t))
			}

			// DescribeEipMonitorData: one point per Period, each with every counter.
			start, end := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), time.Date(2026, 11, 23, 10, 10, 0, 0, time.UTC)
			layout := opOf("DescribeEipMonitorData").Parameter("StartTime").TimeLayout
			md := vpc.CreateDescribeEipMonitorDataRequest()
			md.AcceptFormat, md.AllocationId, md.StartTime, md.EndTime, md.Period = format, a.AllocationId, start.Format(layout), end.Format(layout), "60"
			m, err := c.DescribeEipMonitorData(md)
			sdkMust(t, "DescribeEipMonitorData", err)
			pts := m.EipMonitorDatas.EipMonitorData
			if n := spec.MonitorPoints(start, end, 60); int64(len(pts)) != n || m.RequestId == "" {
				t.Fatalf("DescribeEipMonitorData (%s): %d points, RequestId %q; want %d and set\nbody: %s\n%s", format, len(pts), m.RequestId, n, m.GetHttpContentString(), sdkRerun(t))
			}
			traffic := false
			for i, pt := range pts {
				if wantTS := start.Add(time.Duration(i) * time.Minute).Format(layout); pt.TimeStamp != wantTS {
					t.Errorf("DescribeEipMonitorData (%s) point %d: TimeStamp %q, want %q", format, i, pt.TimeStamp, wantTS)
				}
				if pt.EipFlow != pt.EipRX+pt.EipTX {
					t.Errorf("DescribeEipMonitorData (%s) point %d: EipFlow %d, want EipRX+EipTX = %d", format, i, pt.EipFlow, pt.EipRX+pt.EipTX)
				}
				traffic = traffic || (pt.EipRX > 0 && pt.EipTX > 0 && pt.EipPackets > 0 && pt.EipBandwidth > 0)
			}
			if !traffic {
				t.Errorf("DescribeEipMonitorData (%s): no point has every counter above 0; did the SDK read them?\nbody: %s", format, m.GetHttpContentString())
			}

			// DescribeEipGatewayInfo lists the EIPs associated MULTI_BINDED with an ENI.
			var ips []string
			for range 2 {
				x := sdkAllocate(t, c, format)
				sdkAssociate(t, c, format, x.AllocationId, "eni-emu-multi-1", "NetworkInterface", "MULTI_BINDED")
				ips = append(ips, x.EipAddress)
			}
			gr := vpc.CreateDescribeEipGatewayInfoRequest()
			gr.AcceptFormat, gr.InstanceId = format, "eni-emu-multi-1"
			g, err := c.DescribeEipGatewayInfo(gr)
			sdkMust(t, "DescribeEipGatewayInfo", err)
			var gotIPs []string
			for _, in := range g.EipInfos.EipInfo {
				gotIPs = append(gotIPs, in.Ip)
				if !sdkIsIP(in.IpGw) || in.IpMask == "" {
					t.Errorf("DescribeEipGatewayInfo (%s): EipInfo %+v, want a gateway address and a mask", format, in)
				}
			}
			if diff := cmp.Diff(sdkSorted(ips...), sdkSorted(gotIPs...)); diff != "" {
				t.Errorf("DescribeEipGatewayInfo (%s) addresses mismatch (-want +got):\n%s\nbody: %s\n%s", format, diff, g.GetHttpContentString(), sdkRerun(t))
			}
			wantCM := sdkCodeMessage{Code: sdkExampleString(t, "DescribeEipGatewayInfo", "Code"), Message: sdkExampleString(t, "DescribeEipGatewayInfo", "Message")}
			if got := (sdkCodeMessage{Code: g.Code, Message: g.Message}); got != wantCM {
				t.Errorf("DescribeEipGatewayInfo (%s): got %+v, want %+v", format, got, wantCM)
			}

			// UnassociateEipAddress, then ReleaseEipAddress.
			ur := vpc.CreateUnassociateEipAddressRequest()
			ur.AcceptFormat, ur.AllocationId, ur.InstanceId = format, a.AllocationId, "i-emu-running-1"
			_, err = c.UnassociateEipAddress(ur)
			sdkMust(t, "UnassociateEipAddress", err)
			if got := sdkDescribe(t, c, format, a.AllocationId).EipAddresses.EipAddress[0]; got.Status != "Available" || got.InstanceId != "" {
				t.Errorf("after UnassociateEipAddress (%s): Status %q InstanceId %q, want Available and none", format, got.Status, got.InstanceId)
			}
			rr := vpc.CreateReleaseEipAddressRequest()
			rr.AcceptFormat, rr.AllocationId = format, a.AllocationId
			rel, err := c.ReleaseEipAddress(rr)
			sdkMust(t, "ReleaseEipAddress", err)
			if rel.RequestId == "" {
				t.Errorf("ReleaseEipAddress (%s): no RequestId\nbody: %s", format, rel.GetHttpContentString())
			}
			if d := sdkDescribe(t, c, format, a.AllocationId); d.TotalCount != 0 || len(d.EipAddresses.EipAddress) != 0 {
				t.Errorf("DescribeEipAddresses(released %s) (%s): TotalCount %d, %d items; want 0, 0", a.AllocationId, format, d.TotalCount, len(d.EipAddresses.EipAddress))
			}

			// AllocatePublicIpAddress (Ecs): an address no EIP holds.
			er := ecs.CreateAllocatePublicIpAddressRequest()
			er.AcceptFormat, er.InstanceId = format, "i-emu-running-2"
			pub, err := e.ecs(t).AllocatePublicIpAddress(er)
			sdkMust(t, "AllocatePublicIpAddress", err)
			held := append(slices.Clone(ips), p.EipAddress)
			if !sdkIsIP(pub.IpAddress) || slices.Contains(held, pub.IpAddress) || pub.RequestId == "" {
				t.Errorf("AllocatePublicIpAddress (%s): IpAddress %q RequestId %q; want a fresh address (EIPs hold %v) and a request ID\n%s",
					format, pub.IpAddress, pub.RequestId, held, sdkRerun(t))
			}

			// The emulator saw every operation and answered each call 200.
			for _, action := range []string{"AllocateEipAddress", "AssociateEipAddress", "UnassociateEipAddress", "ModifyEipAddressAttribute",
				"DescribeEipAddresses", "ReleaseEipAddress", "DescribeEipGatewayInfo", "DescribeEipMonitorData",
				"OpenPublicIpAddressPoolService", "OpenVpcIpamService", "AllocatePublicIpAddress"} {
				calls := e.rec.calls(action)
				if len(calls) == 0 {
					t.Errorf("%s (%s): the emulator saw no request", action, format)
				}
				for _, call := range calls {
					if call.Status != http.StatusOK {
						t.Errorf("%s (%s): answered %s %d, want 200", action, format, call.Method, call.Status)
					}
				}
			}
		})
	}
}

// sdkCodeMessage is the body of the two Open*Service operations (and part of gateway info).
type sdkCodeMessage struct {
	RequestId string `json:"RequestId" xml:"RequestId"`
	Code      string `json:"Code" xml:"Code"`
	Message   string `json:"Message" xml:"Message"`
}

// sdkOpenService calls OpenPublicIpAddressPoolService through its typed request, and
// OpenVpcIpamService through a CommonRequest, whose body the SDK leaves to the caller.
func sdkOpenService(t *testing.T, c *vpc.Client, format, action string) sdkCodeMessage {
	t.Helper()
	if action == "OpenPublicIpAddressPoolService" {
		r := vpc.CreateOpenPublicIpAddressPoolServiceRequest()
		r.AcceptFormat = format
		resp, err := c.OpenPublicIpAddressPoolService(r)
		sdkMust(t, action, err)
		return sdkCodeMessage{RequestId: resp.RequestId, Code: resp.Code, Message: resp.Message}
	}
	op := opOf(action)
	r := requests.NewCommonRequest()
	r.Product, r.Version, r.ApiName, r.AcceptFormat = op.Product, op.Version, op.Action, format
	resp, err := c.ProcessCommonRequest(r)
	sdkMust(t, action+" (CommonRequest)", err)
	var cm sdkCodeMessage
	body := resp.GetHttpContentBytes()
	if format == "XML" {
		err = xml.Unmarshal(body, &cm)
	} else {
		err = json.Unmarshal(body, &cm)
	}
	if err != nil {
		t.Fatalf("%s (%s): decode %s: %v", action, format, body, err)
	}
	return cm
}

func sdkIsIP(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4()
}

func sdkSorted(s ...string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func sdkEipIDs(d *vpc.DescribeEipAddressesResponse) []string {
	var ids []string
	for _, it := range d.EipAddresses.EipAddress {
		ids = append(ids, it.AllocationId)
	}
	return sdkSorted(ids...)
}

// TestSDKDocumentedErrors checks that errors the emulator produces from its state and the
// contract's rules reach the SDK as a *errors.ServerError with the spec's status and code.
// All in JSON: the SDK parses error bodies as JSON only (see TestSDKCannotReadXMLErrors).
func TestSDKDocumentedErrors(t *testing.T) {
	quotaOne := emulator.DefaultWorld()
	quotaOne.Regions[0].EipQuota = 1 // cn-hangzhou

	for _, tc := range []struct {
		name  string
		world *emulator.World
		call  func(t *testing.T, e *sdkEnv) error
		want  func(t *testing.T) spec.ErrorRef
	}{
		{
			name: "AllocateEipAddress/Bandwidth=501 PostPaid PayByBandwidth",
			call: func(t *testing.T, e *sdkEnv) error {
				r := vpc.CreateAllocateEipAddressRequest()
				r.InstanceChargeType, r.InternetChargeType, r.Bandwidth = "PostPaid", "PayByBandwidth", "501"
				_, err := e.vpc(t).AllocateEipAddress(r)
				return err
			},
			want: func(t *testing.T) spec.ErrorRef {
				return sdkRuleError(t, "AllocateEipAddress", "bandwidth-postpaid-paybybandwidth")
			},
		},
		{
			name: "AllocateEipAddress/Zone and PublicIpAddressPoolId",
			call: func(t *testing.T, e *sdkEnv) error {
				r := vpc.CreateAllocateEipAddressRequest()
				r.Zone, r.PublicIpAddressPoolId = "cn-hangzhou-a", "pippool-emu-1"
				_, err := e.vpc(t).AllocateEipAddress(r)
				return err
			},
			want: func(t *testing.T) spec.ErrorRef { return sdkRuleError(t, "AllocateEipAddress", "zone-pool-exclusive") },
		},
		{
			name:  "AllocateEipAddress/quota 1 used up",
			world: &quotaOne,
			call: func(t *testing.T, e *sdkEnv) error {
				c := e.vpc(t)
				sdkAllocate(t, c, "JSON")
				_, err := c.AllocateEipAddress(vpc.CreateAllocateEipAddressRequest())
				return err
			},
			want: func(t *testing.T) spec.ErrorRef {
				return sdkStateError(t, "AllocateEipAddress", spec.StateQuotaExceeded)
			},
		},
		{
			name: "ReleaseEipAddress/InUse",
			call: func(t *testing.T, e *sdkEnv) error {
				c := e.vpc(t)
				a := sdkAllocate(t, c, "JSON")
				sdkAssociate(t, c, "JSON", a.AllocationId, "i-emu-running-1", "", "")
				r := vpc.CreateReleaseEipAddressRequest()
				r.AllocationId = a.AllocationId
				_, err := c.ReleaseEipAddress(r)
				return err
			},
			want: func(t *testing.T) spec.ErrorRef {
				return sdkStateError(t, "ReleaseEipAddress", spec.StateEipNotAvailable)
			},
		},
		{
			name: "ReleaseEipAddress/unknown AllocationId",
			call: func(t *testing.T, e *sdkEnv) error {
				r := vpc.CreateReleaseEipAddressRequest()
				r.AllocationId = "eip-nowhere"
				_, err := e.vpc(t).ReleaseEipAddress(r)
				return err
			},
			want: func(t *testing.T) spec.ErrorRef { return sdkStateError(t, "ReleaseEipAddress", spec.StateEipNotFound) },
		},
		{
			name: "AllocatePublicIpAddress/twice",
			call: func(t *testing.T, e *sdkEnv) error {
				c := e.ecs(t)
				r := ecs.CreateAllocatePublicIpAddressRequest()
				r.InstanceId = "i-emu-running-3"
				_, err := c.AllocatePublicIpAddress(r)
				sdkMust(t, "first AllocatePublicIpAddress", err)
				r = ecs.CreateAllocatePublicIpAddressRequest()
				r.InstanceId = "i-emu-running-3"
				_, err = c.AllocatePublicIpAddress(r)
				return err
			},
			want: func(t *testing.T) spec.ErrorRef {
				return sdkStateError(t, "AllocatePublicIpAddress", spec.StateInstanceHasPublicIP)
			},
		},
		{
			name: "AllocatePublicIpAddress/instance locked for security",
			call: func(t *testing.T, e *sdkEnv) error {
				r := ecs.CreateAllocatePublicIpAddressRequest()
				r.InstanceId = "i-emu-locked"
				_, err := e.ecs(t).AllocatePublicIpAddress(r)
				return err
			},
			want: func(t *testing.T) spec.ErrorRef {
				return sdkStateError(t, "AllocatePublicIpAddress", spec.StateInstanceLocked)
			},
		},
		{
			name: "DescribeEipMonitorData/Period=61",
			call: func(t *testing.T, e *sdkEnv) error {
				c := e.vpc(t)
				r := vpc.CreateDescribeEipMonitorDataRequest()
				r.AllocationId = sdkAllocate(t, c, "JSON").AllocationId
				r.StartTime, r.EndTime, r.Period = "2026-11-23T10:00:00Z", "2026-11-23T10:10:00Z", "61"
				_, err := c.DescribeEipMonitorData(r)
				return err
			},
			want: func(t *testing.T) spec.ErrorRef { return sdkRuleError(t, "DescribeEipMonitorData", "Period.enum") },
		},
		{
			name: "DescribeEipAddresses/LockReason=bogus",
			call: func(t *testing.T, e *sdkEnv) error {
				r := vpc.CreateDescribeEipAddressesRequest()
				r.LockReason = "bogus"
				_, err := e.vpc(t).DescribeEipAddresses(r)
				return err
			},
			want: func(t *testing.T) spec.ErrorRef { return sdkRuleError(t, "DescribeEipAddresses", "LockReason.enum") },
		},
		{
			name: "protocol/wrong secret",
			call: func(t *testing.T, e *sdkEnv) error {
				id, secret := sdkKey()
				_, err := e.vpcWith(t, sdkNoRetry(), id, "not-"+secret).DescribeEipAddresses(vpc.CreateDescribeEipAddressesRequest())
				return err
			},
			want: func(t *testing.T) spec.ErrorRef { return sdkProtocolError(t, spec.ErrSignatureMismatch) },
		},
		{
			name: "protocol/unknown AccessKeyId",
			call: func(t *testing.T, e *sdkEnv) error {
				_, secret := sdkKey()
				_, err := e.vpcWith(t, sdkNoRetry(), "no-such-key", secret).DescribeEipAddresses(vpc.CreateDescribeEipAddressesRequest())
				return err
			},
			want: func(t *testing.T) spec.ErrorRef { return sdkProtocolError(t, spec.ErrUnknownAccessKey) },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSDKEnv(t, emulator.Options{World: tc.world})
			se := sdkServerError(t, tc.name, tc.call(t, e), tc.want(t))
			if tc.name == "protocol/wrong secret" && !strings.HasPrefix(se.Recommend(), "InvalidAccessKeySecret") {
				// The SDK compares the string to sign the emulator quotes with its own and
				// blames the secret only when they agree.
				t.Errorf("wrong secret: the SDK recommends %q, want InvalidAccessKeySecret...: the SDK and the emulator disagree on the string to sign\nmessage: %s\n%s", se.Recommend(), se.Message(), sdkRerun(t))
			}
		})
	}
}

// TestSDKCannotReadXMLErrors pins a limitation of the SDK, not of the emulator: with
// AcceptFormat XML an error still arrives as a ServerError with the right HTTP status, but
// the SDK parses error bodies as JSON only, so ErrorCode() is empty and Message() is the
// raw XML. Callers who need error codes must use JSON (the SDK's default).
func TestSDKCannotReadXMLErrors(t *testing.T) {
	e := newSDKEnv(t, emulator.Options{})
	want := sdkStateError(t, "ReleaseEipAddress", spec.StateEipNotFound)
	r := vpc.CreateReleaseEipAddressRequest()
	r.AcceptFormat, r.AllocationId = "XML", "eip-nowhere"
	_, err := e.vpc(t).ReleaseEipAddress(r)
	var se *sdkerrors.ServerError
	if !errors.As(err, &se) {
		t.Fatalf("ReleaseEipAddress(eip-nowhere) in XML: got %v (%T), want an SDK *errors.ServerError\n%s", err, err, sdkRerun(t))
	}
	if se.HttpStatus() != want.Status {
		t.Errorf("ReleaseEipAddress(eip-nowhere) in XML: HttpStatus() %d, want %d\n%s", se.HttpStatus(), want.Status, sdkRerun(t))
	}
	if se.ErrorCode() != "" || !strings.Contains(se.Message(), "<Code>"+want.Code+"</Code>") {
		t.Errorf("ReleaseEipAddress(eip-nowhere) in XML: ErrorCode() %q, Message() %q; want \"\" and the raw XML naming %s (the SDK parses JSON errors only; did it change?)\n%s",
			se.ErrorCode(), se.Message(), want.Code, sdkRerun(t))
	}
}

// sdkInjectOverHTTP adds a fault through the control channel, as a test in another process would.
func sdkInjectOverHTTP(t *testing.T, e *sdkEnv, f map[string]any) {
	t.Helper()
	body, _ := json.Marshal(f)
	resp, err := http.Post(e.url+emulator.ControlPath+"faults", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %sfaults %s: %v", emulator.ControlPath, body, err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %sfaults %s: got %s, want a 2xx", emulator.ControlPath, body, resp.Status)
	}
}

// TestSDKInjectedFaults checks that injected faults reach the SDK as the errors they name, with
// the spec's status, and are gone after Count calls.
func TestSDKInjectedFaults(t *testing.T) {
	allocateCall := func(t *testing.T, c *vpc.Client) error {
		_, err := c.AllocateEipAddress(vpc.CreateAllocateEipAddressRequest())
		return err
	}
	describeCall := func(t *testing.T, c *vpc.Client) error {
		_, err := c.DescribeEipAddresses(vpc.CreateDescribeEipAddressesRequest())
		return err
	}
	for _, tc := range []struct {
		name     string
		action   string
		code     string
		overHTTP bool
		call     func(*testing.T, *vpc.Client) error
		want     func(t *testing.T) spec.ErrorRef
	}{
		{"QuotaExceeded.Eip", "AllocateEipAddress", "QuotaExceeded.Eip", false, allocateCall,
			func(t *testing.T) spec.ErrorRef { return sdkTableError(t, "AllocateEipAddress", "QuotaExceeded.Eip") }},
		{"OperationConflict", "AllocateEipAddress", "OperationConflict", false, allocateCall,
			func(t *testing.T) spec.ErrorRef { return sdkTableError(t, "AllocateEipAddress", "OperationConflict") }},
		{"InternalError", "AllocateEipAddress", "InternalError", false, allocateCall,
			func(t *testing.T) spec.ErrorRef { return sdkTableError(t, "AllocateEipAddress", "InternalError") }},
		{"Throttling", "DescribeEipAddresses", sdkProtocolCode(spec.ErrThrottling), false, describeCall,
			func(t *testing.T) spec.ErrorRef { return sdkProtocolError(t, spec.ErrThrottling) }},
		{"OperationConflict over HTTP", "AllocateEipAddress", "OperationConflict", true, allocateCall,
			func(t *testing.T) spec.ErrorRef { return sdkTableError(t, "AllocateEipAddress", "OperationConflict") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSDKEnv(t, emulator.Options{})
			c := e.vpc(t)
			if tc.overHTTP {
				sdkInjectOverHTTP(t, e, map[string]any{"action": tc.action, "code": tc.code, "count": 1})
			} else if err := e.srv.InjectFault(emulator.Fault{Action: tc.action, Code: tc.code, Count: 1}); err != nil {
				t.Fatalf("InjectFault(%s %s): %v", tc.action, tc.code, err)
			}
			sdkServerError(t, tc.action+" with fault "+tc.code, tc.call(t, c), tc.want(t))
			sdkMust(t, tc.action+" after the count-1 fault fired", tc.call(t, c))
		})
	}

	t.Run("latency", func(t *testing.T) {
		e := newSDKEnv(t, emulator.Options{})
		const latency = 200 * time.Millisecond
		if err := e.srv.InjectFault(emulator.Fault{Action: "DescribeEipAddresses", Latency: emulator.Duration{Duration: latency}, Count: 1}); err != nil {
			t.Fatalf("InjectFault(latency %s): %v", latency, err)
		}
		start := time.Now()
		sdkMust(t, "DescribeEipAddresses with latency", describeCall(t, e.vpc(t)))
		if elapsed := time.Since(start); elapsed < latency {
			t.Errorf("DescribeEipAddresses with an injected latency of %s took %s, want at least that\n%s", latency, elapsed, sdkRerun(t))
		}
	})
}

// sdkProtocolCode is the code of a protocol error, for building faults.
func sdkProtocolCode(id string) string {
	e, _ := spec.Default().ProtocolError(id)
	return e.Code
}

// TestSDKAutoRetry checks the SDK's AutoRetry against injected faults. The SDK (sdk/client.go,
// isServerError) retries every answer with status >= 500, and transport errors, up to
// MaxRetryTime more times, re-signing each retry with a fresh SignatureNonce (so the emulator's
// nonce check does not refuse it); it never retries a 4xx, so Throttling, which the spec gives
// status 400, is not retried. It does not close a retried answer's body, so every retry opens
// a new connection.
func TestSDKAutoRetry(t *testing.T) {
	id, secret := sdkKey()
	for _, tc := range []struct {
		name     string
		action   string
		code     string
		count    int
		maxRetry int
		wantErr  func(t *testing.T) spec.ErrorRef // nil: the call succeeds
		// wantStatuses are what the emulator answered, in order (one per attempt).
		wantStatuses func(t *testing.T) []int
	}{
		{
			name: "InternalError once, then success", action: "AllocateEipAddress", code: "InternalError", count: 1, maxRetry: 3,
			wantStatuses: func(t *testing.T) []int {
				return []int{sdkTableError(t, "AllocateEipAddress", "InternalError").Status, http.StatusOK}
			},
		},
		{
			// DescribeEipAddresses' table has no InternalError, and a fault must name a listed
			// code; the protocol's ServiceUnavailable (503) is its 5xx.
			name: "ServiceUnavailable once, then success", action: "DescribeEipAddresses", code: sdkProtocolCode(spec.ErrUnavailable), count: 1, maxRetry: 3,
			wantStatuses: func(t *testing.T) []int {
				return []int{sdkProtocolError(t, spec.ErrUnavailable).Status, http.StatusOK}
			},
		},
		{
			name: "Throttling is a 4xx and not retried", action: "DescribeEipAddresses", code: sdkProtocolCode(spec.ErrThrottling), count: 1, maxRetry: 3,
			wantErr:      func(t *testing.T) spec.ErrorRef { return sdkProtocolError(t, spec.ErrThrottling) },
			wantStatuses: func(t *testing.T) []int { return []int{sdkProtocolError(t, spec.ErrThrottling).Status} },
		},
		{
			name: "gives up after MaxRetryTime", action: "AllocateEipAddress", code: "InternalError", count: 10, maxRetry: 2,
			wantErr: func(t *testing.T) spec.ErrorRef { return sdkTableError(t, "AllocateEipAddress", "InternalError") },
			wantStatuses: func(t *testing.T) []int {
				s := sdkTableError(t, "AllocateEipAddress", "InternalError").Status
				return []int{s, s, s} // the first try and MaxRetryTime retries
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSDKEnv(t, emulator.Options{})
			c := e.vpcWith(t, sdk.NewConfig().WithAutoRetry(true).WithMaxRetryTime(tc.maxRetry), id, secret)
			if err := e.srv.InjectFault(emulator.Fault{Action: tc.action, Code: tc.code, Count: tc.count}); err != nil {
				t.Fatalf("InjectFault(%s %s count %d): %v", tc.action, tc.code, tc.count, err)
			}
			var err error
			switch tc.action {
			case "AllocateEipAddress":
				_, err = c.AllocateEipAddress(vpc.CreateAllocateEipAddressRequest())
			case "DescribeEipAddresses":
				_, err = c.DescribeEipAddresses(vpc.CreateDescribeEipAddressesRequest())
			}
			if tc.wantErr == nil {
				sdkMust(t, fmt.Sprintf("%s with AutoRetry after %d %s", tc.action, tc.count, tc.code), err)
			} else {
				sdkServerError(t, fmt.Sprintf("%s with AutoRetry, MaxRetryTime %d, after %d %s", tc.action, tc.maxRetry, tc.count, tc.code), err, tc.wantErr(t))
			}
			want := tc.wantStatuses(t)
			if diff := cmp.Diff(want, e.rec.statuses(tc.action)); diff != "" {
				t.Errorf("%s with AutoRetry: the emulator's answers, one per attempt, mismatch (-want +got):\n%s\n%s", tc.action, diff, sdkRerun(t))
			}
			if got := int(e.conns.Load()); got != len(want) {
				t.Errorf("%s with AutoRetry: %d attempts over %d connections, want one connection per attempt (the SDK leaves a retried 5xx answer unread and open; did it change?)\n%s", tc.action, len(want), got, sdkRerun(t))
			}
		})
	}
}

// TestSDKMethods sends the same calls with the SDK's GET and POST: both are signed over their
// method and verified by the emulator. A POST also carries form parameters in its body.
func TestSDKMethods(t *testing.T) {
	for _, method := range []string{requests.GET, requests.POST} {
		t.Run(method, func(t *testing.T) {
			e := newSDKEnv(t, emulator.Options{})
			c := e.vpc(t)

			ar := vpc.CreateAllocateEipAddressRequest()
			ar.Method, ar.Name = method, "by-"+method
			a, err := c.AllocateEipAddress(ar)
			sdkMust(t, method+" AllocateEipAddress", err)

			as := vpc.CreateAssociateEipAddressRequest()
			as.Method, as.AllocationId, as.InstanceId = method, a.AllocationId, "i-emu-running-1"
			_, err = c.AssociateEipAddress(as)
			sdkMust(t, method+" AssociateEipAddress", err)

			op := opOf("ModifyEipAddressAttribute")
			mr := requests.NewCommonRequest()
			mr.Method, mr.Product, mr.Version, mr.ApiName = method, op.Product, op.Version, op.Action
			mr.QueryParams["AllocationId"] = a.AllocationId
			if method == requests.POST {
				// In a POST's form body; a GET's body is no parameter source (see
				// internal/rpc TestSDKGetWithFormParams), so a GET sends it in the query.
				mr.FormParams["Description"] = "sent as " + method
			} else {
				mr.QueryParams["Description"] = "sent as " + method
			}
			_, err = c.ProcessCommonRequest(mr)
			sdkMust(t, method+" ModifyEipAddressAttribute (CommonRequest)", err)

			d := vpc.CreateDescribeEipAddressesRequest()
			d.Method, d.AllocationId = method, a.AllocationId
			dr, err := c.DescribeEipAddresses(d)
			sdkMust(t, method+" DescribeEipAddresses", err)
			if len(dr.EipAddresses.EipAddress) != 1 {
				t.Fatalf("%s DescribeEipAddresses(%s): %d items, want 1\n%s", method, a.AllocationId, len(dr.EipAddresses.EipAddress), sdkRerun(t))
			}
			it := dr.EipAddresses.EipAddress[0]
			if it.Name != "by-"+method || it.Description != "sent as "+method || it.Status != "InUse" {
				t.Errorf("%s: Name %q Description %q Status %q, want %q, %q, InUse\n%s", method, it.Name, it.Description, it.Status, "by-"+method, "sent as "+method, sdkRerun(t))
			}
			for _, action := range []string{"AllocateEipAddress", "AssociateEipAddress", "ModifyEipAddressAttribute", "DescribeEipAddresses"} {
				want := []sdkAnswered{{Method: method, Action: action, Status: http.StatusOK}}
				if diff := cmp.Diff(want, e.rec.calls(action)); diff != "" {
					t.Errorf("%s %s: what the emulator saw mismatch (-want +got):\n%s\n%s", method, action, diff, sdkRerun(t))
				}
			}
		})
	}
}

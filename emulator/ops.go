package emulator

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/eipconform/eipconform/spec"
)

// call is one API request as the operations see it: the operation, its parameters (already
// accepted by the oracle) and the time.
type call struct {
	op     *spec.Operation
	params url.Values
	now    time.Time
	reqID  string
}

func (c *call) get(name string) string { return c.params.Get(name) }

// getDefault returns the parameter or, when absent, the spec's default for it.
func (c *call) getDefault(name string) string {
	if v := c.params.Get(name); v != "" {
		return v
	}
	if p := c.op.Parameter(name); p != nil && p.HasDefault {
		return p.Default
	}
	return ""
}

// apiError is an error answer.
type apiError struct {
	Status  int
	Code    string
	Message string
}

// fail returns the error the spec's state rule of that kind maps to, with the operation's
// documented message for the code.
func (c *call) fail(kind spec.StateKind, args ...string) *apiError {
	r := c.op.StateRule(kind)
	if r == nil || r.Error == nil {
		// A programming error: the emulator checks a precondition the spec does not list.
		panic("emulator: " + c.op.Action + " has no state rule " + string(kind))
	}
	return errorFor(c.op, *r.Error, args...)
}

// errorFor builds an apiError for ref with the message the operation's table gives (or the
// protocol's), filling %s placeholders with args.
func errorFor(op *spec.Operation, ref spec.ErrorRef, args ...string) *apiError {
	msg := ""
	if op != nil {
		var rows []string
		for _, e := range op.Errors {
			if e.Status == ref.Status && e.Code == ref.Code {
				rows = append(rows, e.Message)
			}
		}
		msg = messageFor(op, rows, args)
	}
	if msg == "" {
		for _, e := range spec.Default().ProtocolErrors {
			if e.Status == ref.Status && e.Code == ref.Code {
				msg = e.Message
				break
			}
		}
	}
	for _, a := range args {
		msg = strings.Replace(msg, "%s", a, 1)
	}
	return &apiError{Status: ref.Status, Code: ref.Code, Message: msg}
}

// messageFor picks, among the messages of the error-table rows of one code, the one about the
// parameter in question (args[0], when given): a row that names it, else one that names no
// other parameter of op; "" when none fits (the protocol error's generic message then serves).
// The tables give one code several rows, each about one parameter ("Specified value of
// \"Bandwidth\" is not valid."), which must not answer for another.
func messageFor(op *spec.Operation, rows []string, args []string) string {
	if len(args) == 0 || args[0] == "" {
		if len(rows) > 0 {
			return rows[0]
		}
		return ""
	}
	for _, m := range rows {
		if mentions(m, args[0]) {
			return m
		}
	}
	for _, m := range rows {
		if !slices.ContainsFunc(op.Parameters, func(p *spec.Parameter) bool { return mentions(m, p.Name) }) {
			return m
		}
	}
	return ""
}

// mentions reports whether msg names a parameter: the name, not part of a longer word.
func mentions(msg, name string) bool {
	word := func(b byte) bool { return 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' }
	for i := 0; ; {
		j := strings.Index(msg[i:], name)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(name)
		if (j == 0 || !word(msg[j-1])) && (end == len(msg) || !word(msg[end])) {
			return true
		}
		i = j + 1
	}
}

func (s *state) regionOK(c *call) *apiError {
	if _, ok := s.World.Region(c.get("RegionId")); !ok {
		return c.fail(spec.StateRegionUnknown)
	}
	return nil
}

// eipIn returns the EIP named by AllocationId in the request's region.
func (s *state) eipIn(c *call) (*EIP, *apiError) {
	e := s.EIPs[c.get("AllocationId")]
	if e == nil || (c.get("RegionId") != "" && e.RegionID != c.get("RegionId")) {
		return nil, c.fail(spec.StateEipNotFound)
	}
	return e, nil
}

// Responses. Field names are the wire names; XML is rendered from the same values.

type requestOnly struct {
	RequestId string
}

type codeMessage struct {
	RequestId string
	Code      string
	Message   string
}

type allocateResponse struct {
	RequestId       string
	AllocationId    string
	EipAddress      string `json:",omitempty"`
	ResourceGroupId string `json:",omitempty"`
	OrderId         int64  `json:",omitempty"`
}

func (s *state) allocateEipAddress(c *call) (any, *apiError) {
	region, ok := s.World.Region(c.get("RegionId"))
	if !ok {
		return nil, c.fail(spec.StateRegionUnknown)
	}
	if rg := c.get("ResourceGroupId"); rg != "" && !slices.Contains(s.World.ResourceGroups, rg) {
		return nil, c.fail(spec.StateResourceGroupUnknown)
	}
	tokenKey, fingerprint := "", ""
	if tok := c.get("ClientToken"); tok != "" {
		tokenKey = c.op.Action + "\x00" + region.ID + "\x00" + tok
		fingerprint = paramsFingerprint(c.params)
		if prev, ok := s.Tokens[tokenKey]; ok {
			if e := s.EIPs[prev.AllocationID]; e != nil {
				return allocateResult(c, e, prev.OrderID), nil
			}
			return allocateResponse{RequestId: c.reqID, AllocationId: prev.AllocationID, OrderId: prev.OrderID}, nil
		}
	}
	if pool := c.get("PublicIpAddressPoolId"); pool != "" {
		if !s.Opened[c.op.StateRule(spec.StatePoolUnusable).Requires] || !slices.Contains(s.World.PublicIPAddressPools, pool) {
			return nil, c.fail(spec.StatePoolUnusable, "PublicIpAddressPool", pool)
		}
	}
	if s.countInRegion(region.ID) >= region.EipQuota {
		return nil, c.fail(spec.StateQuotaExceeded)
	}
	s.pruneReleased(c.now)
	var ip, id string
	switch {
	case c.get("IpAddress") != "" || c.get("InstanceId") != "":
		want, wantID := c.get("IpAddress"), c.get("InstanceId")
		if (want != "" && s.inUse(want)) || (wantID != "" && s.EIPs[wantID] != nil) {
			return nil, c.fail(spec.StateIPInUse)
		}
		i := slices.IndexFunc(s.Released, func(r released) bool {
			return r.RegionID == region.ID && (want == "" || r.IPAddress == want) && (wantID == "" || r.AllocationID == wantID)
		})
		if i < 0 {
			return nil, c.fail(spec.StateIPNotRecentlyReleased)
		}
		// By InstanceId the caller asks for that EIP back; by IpAddress only for its address,
		// which comes back under a new AllocationId (the released one stays not found).
		ip, id = s.Released[i].IPAddress, s.Released[i].AllocationID
		if wantID == "" {
			id = s.newAllocationID()
		}
		s.Released = slices.Delete(s.Released, i, i+1)
	default:
		var ok bool
		if ip, ok = s.nextAddress(c.now); !ok {
			return nil, c.fail(spec.StateAddressesExhausted)
		}
		id = s.newAllocationID()
	}
	bw, _ := spec.ParseInt(c.getDefault("Bandwidth"), 64)
	e := &EIP{
		AllocationID: id, IPAddress: ip, RegionID: region.ID,
		Name: c.get("Name"), Description: c.get("Description"), Bandwidth: bw,
		ChargeType: c.getDefault("InstanceChargeType"), InternetChargeType: c.getDefault("InternetChargeType"),
		ISP: c.getDefault("ISP"), Netmode: c.getDefault("Netmode"), ResourceGroupID: c.get("ResourceGroupId"),
		Status: eipAvailable, AllocationTime: c.now.UTC().Truncate(time.Second),
		PoolID: c.get("PublicIpAddressPoolId"), Zone: c.get("Zone"), Protection: listValues(c.params, "SecurityProtectionTypes"),
	}
	if e.ResourceGroupID == "" && len(s.World.ResourceGroups) > 0 {
		e.ResourceGroupID = s.World.ResourceGroups[0]
	}
	var order int64
	if e.ChargeType == "PrePaid" {
		s.NextOrder++
		order = s.NextOrder
		months, _ := spec.ParseInt(c.getDefault("Period"), 64)
		if c.getDefault("PricingCycle") == "Year" {
			months *= 12
		}
		e.ExpiredTime = e.AllocationTime.AddDate(0, int(months), 0)
	}
	s.EIPs[id] = e
	if tokenKey != "" {
		s.Tokens[tokenKey] = tokenEntry{Fingerprint: fingerprint, AllocationID: id, OrderID: order}
	}
	return allocateResult(c, e, order), nil
}

func allocateResult(c *call, e *EIP, order int64) allocateResponse {
	r := allocateResponse{RequestId: c.reqID, AllocationId: e.AllocationID, OrderId: order}
	if e.ChargeType != "PrePaid" {
		r.EipAddress, r.ResourceGroupId = e.IPAddress, e.ResourceGroupID
	}
	return r
}

// paramsFingerprint identifies a request's API parameters (not the signature ones).
func paramsFingerprint(p url.Values) string {
	keys := make([]string, 0, len(p))
	common := spec.Default().CommonParameters
	for k := range p {
		if !slices.Contains(common, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k + "=" + p.Get(k) + "\x00"))
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

func listValues(p url.Values, name string) []string {
	var out []string
	for i := 1; ; i++ {
		v := p.Get(name + "." + strconv.Itoa(i))
		if v == "" {
			return out
		}
		out = append(out, v)
	}
}

func (s *state) associateEipAddress(c *call) (any, *apiError) {
	if err := s.regionOK(c); err != nil {
		return nil, err
	}
	e, err := s.eipIn(c)
	if err != nil {
		return nil, err
	}
	if e.Status != eipAvailable {
		return nil, c.fail(spec.StateEipNotAvailable)
	}
	target := c.get("InstanceId")
	kind := c.getDefault("InstanceType")
	mode := c.getDefault("Mode")
	switch kind {
	case "NetworkInterface":
		n := s.eni(target)
		if n == nil {
			return nil, c.fail(spec.StateInstanceNotFound)
		}
		if n.RegionID != e.RegionID {
			return nil, c.fail(spec.StateRegionMismatch)
		}
		if prev := s.eipOf(target); prev != nil && (mode != "MULTI_BINDED" || prev.Mode != "MULTI_BINDED") {
			return nil, c.fail(spec.StateInstanceHasEip)
		}
	case "EcsInstance":
		in := s.instance(target)
		if in == nil {
			return nil, c.fail(spec.StateInstanceNotFound)
		}
		if in.RegionID != e.RegionID {
			return nil, c.fail(spec.StateRegionMismatch)
		}
		if !in.VPC {
			return nil, c.fail(spec.StateInstanceNotVPC)
		}
		if in.Status != StatusRunning && in.Status != StatusStopped {
			return nil, c.fail(spec.StateInstanceStatus)
		}
		if s.eipOf(target) != nil || s.PublicIPs[target] != "" {
			return nil, c.fail(spec.StateInstanceHasEip)
		}
	default: // NAT gateways and load balancers are not part of the emulator's world
		return nil, c.fail(spec.StateInstanceNotFound)
	}
	e.Status, e.InstanceID, e.InstanceType, e.Mode = eipInUse, target, kind, mode
	e.InstanceRegionID = e.RegionID
	e.PrivateIPAddress = c.get("PrivateIpAddress")
	return requestOnly{RequestId: c.reqID}, nil
}

func (s *state) unassociateEipAddress(c *call) (any, *apiError) {
	if err := s.regionOK(c); err != nil {
		return nil, err
	}
	e, err := s.eipIn(c)
	if err != nil {
		return nil, err
	}
	if e.Status != eipInUse {
		return nil, c.fail(spec.StateEipNotInUse)
	}
	if target := c.get("InstanceId"); target != "" && target != e.InstanceID {
		if s.instance(target) == nil && s.eni(target) == nil {
			return nil, c.fail(spec.StateInstanceNotFound)
		}
		return nil, c.fail(spec.StateEipNotBoundToInstance)
	}
	e.Status, e.InstanceID, e.InstanceType, e.InstanceRegionID, e.Mode, e.PrivateIPAddress = eipAvailable, "", "", "", "", ""
	return requestOnly{RequestId: c.reqID}, nil
}

func (s *state) releaseEipAddress(c *call) (any, *apiError) {
	if err := s.regionOK(c); err != nil {
		return nil, err
	}
	e, err := s.eipIn(c)
	if err != nil {
		return nil, err
	}
	if e.ChargeType == "PrePaid" {
		return nil, c.fail(spec.StateEipPrepaid)
	}
	if e.Status != eipAvailable {
		return nil, c.fail(spec.StateEipNotAvailable)
	}
	delete(s.EIPs, e.AllocationID)
	s.pruneReleased(c.now)
	s.Released = append(s.Released, released{IPAddress: e.IPAddress, AllocationID: e.AllocationID, RegionID: e.RegionID, At: c.now.UTC()})
	return requestOnly{RequestId: c.reqID}, nil
}

func (s *state) modifyEipAddressAttribute(c *call) (any, *apiError) {
	if err := s.regionOK(c); err != nil {
		return nil, err
	}
	e, err := s.eipIn(c)
	if err != nil {
		return nil, err
	}
	var bw int64
	if v := c.get("Bandwidth"); v != "" {
		bw, _ = spec.ParseInt(v, 64)
		r := c.op.StateRule(spec.StateBandwidthForMetering)
		for _, l := range r.Limits {
			if l.Value == e.InternetChargeType && bw > l.Max {
				return nil, c.fail(spec.StateBandwidthForMetering)
			}
		}
	}
	if bw > 0 {
		e.Bandwidth = bw
	}
	if v := c.get("Name"); v != "" {
		e.Name = v
	}
	if v := c.get("Description"); v != "" {
		e.Description = v
	}
	return requestOnly{RequestId: c.reqID}, nil
}

type eipItem struct {
	AllocationId       string
	AllocationTime     string
	AvailableRegions   availableRegions
	Bandwidth          string
	ChargeType         string
	Description        string
	ExpiredTime        string
	ISP                string
	InstanceId         string
	InstanceRegionId   string
	InstanceType       string
	InternetChargeType string
	IpAddress          string
	Mode               string
	Name               string
	OperationLocks     operationLocks
	PrivateIpAddress   string
	RegionId           string
	ResourceGroupId    string
	Status             string
}

type availableRegions struct{ AvailableRegion []string }
type operationLocks struct{ LockReason []lockReason }
type lockReason struct{ LockReason string }

type describeResponse struct {
	RequestId    string
	TotalCount   int
	PageNumber   int
	PageSize     int
	EipAddresses struct{ EipAddress []eipItem }
}

// timeLayout is how the API writes times.
const timeLayout = "2006-01-02T15:04:05Z"

func (s *state) describeEipAddresses(c *call) (any, *apiError) {
	if err := s.regionOK(c); err != nil {
		return nil, err
	}
	region := c.get("RegionId")
	var from, to time.Time
	for i := 1; i <= 2; i++ {
		k, v := c.get("Filter."+strconv.Itoa(i)+".Key"), c.get("Filter."+strconv.Itoa(i)+".Value")
		t, ok := spec.ParseTime("2006-01-02T15:04Z", v)
		if !ok {
			continue
		}
		switch k {
		case "CreationStartTime":
			from = t
		case "CreationEndTime":
			to = t
		}
	}
	ids, ips := splitList(c.get("AllocationId")), splitList(c.get("EipAddress"))
	var match []*EIP
	for _, e := range s.EIPs {
		switch {
		case e.RegionID != region,
			len(ids) > 0 && !slices.Contains(ids, e.AllocationID),
			len(ips) > 0 && !slices.Contains(ips, e.IPAddress),
			c.get("Status") != "" && e.Status != c.get("Status"),
			c.get("ChargeType") != "" && e.ChargeType != c.get("ChargeType"),
			c.get("AssociatedInstanceId") != "" && e.InstanceID != c.get("AssociatedInstanceId"),
			c.get("AssociatedInstanceType") != "" && e.InstanceType != c.get("AssociatedInstanceType"),
			c.get("LockReason") != "" && e.LockReason != c.get("LockReason"),
			c.get("ResourceGroupId") != "" && e.ResourceGroupID != c.get("ResourceGroupId"),
			c.get("ISP") != "" && e.ISP != c.get("ISP"),
			!from.IsZero() && e.AllocationTime.Before(from),
			!to.IsZero() && e.AllocationTime.After(to):
			continue
		}
		match = append(match, e)
	}
	sort.Slice(match, func(i, j int) bool {
		if !match[i].AllocationTime.Equal(match[j].AllocationTime) {
			return match[i].AllocationTime.After(match[j].AllocationTime) // newest first
		}
		return match[i].AllocationID > match[j].AllocationID
	})
	page, _ := spec.ParseInt(c.getDefault("PageNumber"), 32)
	size, _ := spec.ParseInt(c.getDefault("PageSize"), 32)
	r := describeResponse{RequestId: c.reqID, TotalCount: len(match), PageNumber: int(page), PageSize: int(size)}
	r.EipAddresses.EipAddress = []eipItem{}
	start := (page - 1) * size
	for i := start; i < start+size && i < int64(len(match)); i++ {
		r.EipAddresses.EipAddress = append(r.EipAddresses.EipAddress, item(match[i]))
	}
	return r, nil
}

func splitList(v string) []string {
	if v == "" {
		return nil
	}
	parts := strings.Split(v, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

func item(e *EIP) eipItem {
	it := eipItem{
		AllocationId: e.AllocationID, AllocationTime: e.AllocationTime.UTC().Format(timeLayout),
		AvailableRegions: availableRegions{AvailableRegion: []string{e.RegionID}},
		Bandwidth:        strconv.FormatInt(e.Bandwidth, 10), ChargeType: e.ChargeType, Description: e.Description,
		ISP: e.ISP, InstanceId: e.InstanceID, InstanceRegionId: e.InstanceRegionID, InstanceType: e.InstanceType,
		InternetChargeType: e.InternetChargeType, IpAddress: e.IPAddress, Mode: e.Mode, Name: e.Name,
		OperationLocks:   operationLocks{LockReason: []lockReason{}},
		PrivateIpAddress: e.PrivateIPAddress, RegionId: e.RegionID, ResourceGroupId: e.ResourceGroupID, Status: e.Status,
	}
	if !e.ExpiredTime.IsZero() {
		it.ExpiredTime = e.ExpiredTime.UTC().Format("2006-01-02T15:04Z")
	}
	if e.LockReason != "" {
		it.OperationLocks.LockReason = []lockReason{{LockReason: e.LockReason}}
	}
	return it
}

type gatewayResponse struct {
	RequestId string
	Code      string
	Message   string
	EipInfos  struct{ EipInfo []eipInfo }
}

type eipInfo struct {
	Ip     string
	IpGw   string
	IpMask string
}

func (s *state) describeEipGatewayInfo(c *call) (any, *apiError) {
	n := s.eni(c.get("InstanceId"))
	if n == nil || n.RegionID != c.get("RegionId") {
		return nil, c.fail(spec.StateEniNotFound)
	}
	r := gatewayResponse{RequestId: c.reqID, Code: "200", Message: "successful"}
	r.EipInfos.EipInfo = []eipInfo{}
	var bound []*EIP
	for _, e := range s.EIPs {
		if e.InstanceID == n.ID && e.Mode == "MULTI_BINDED" {
			bound = append(bound, e)
		}
	}
	sort.Slice(bound, func(i, j int) bool { return bound[i].IPAddress < bound[j].IPAddress })
	for _, e := range bound {
		a, _ := netip.ParseAddr(e.IPAddress)
		b := a.As4()
		b[3] = 1
		r.EipInfos.EipInfo = append(r.EipInfos.EipInfo, eipInfo{Ip: e.IPAddress, IpGw: netip.AddrFrom4(b).String(), IpMask: "255.255.255.0"})
	}
	return r, nil
}

type monitorResponse struct {
	RequestId       string
	EipMonitorDatas struct{ EipMonitorData []monitorPoint }
}

type monitorPoint struct {
	EipBandwidth int64
	EipFlow      int64
	EipPackets   int64
	EipRX        int64
	EipTX        int64
	TimeStamp    string
}

// maxMonitorPoints is the 200-point limit the spec's max-points rule states.
func maxMonitorPoints(op *spec.Operation) int64 {
	for _, r := range op.Rules {
		if r.Check.Kind == spec.KindMaxPoints && r.Check.Max != nil {
			return *r.Check.Max
		}
	}
	return 0
}

func (s *state) describeEipMonitorData(c *call) (any, *apiError) {
	if err := s.regionOK(c); err != nil {
		return nil, err
	}
	e, err := s.eipIn(c)
	if err != nil {
		return nil, err
	}
	layout := c.op.Parameter("StartTime").TimeLayout
	start, _ := spec.ParseTime(layout, c.get("StartTime"))
	end, _ := spec.ParseTime(layout, c.get("EndTime"))
	period, _ := spec.ParseInt(c.getDefault("Period"), 32)
	r := monitorResponse{RequestId: c.reqID}
	r.EipMonitorDatas.EipMonitorData = []monitorPoint{}
	start, end = spec.CeilMinute(start), spec.CeilMinute(end)
	if end.Before(start) || period <= 0 {
		return r, nil
	}
	// One point per period from the rounded start; a range shorter than a period still
	// returns the point at the start; never more than the limit (the metadata's reading).
	n := max(spec.MonitorPoints(start, end, period), 1)
	n = min(n, maxMonitorPoints(c.op))
	for i := range n {
		t := start.Add(time.Duration(i*period) * time.Second)
		r.EipMonitorDatas.EipMonitorData = append(r.EipMonitorDatas.EipMonitorData, synthPoint(e.AllocationID, t, period))
	}
	return r, nil
}

// synthPoint is a deterministic synthetic data point: the same EIP and time always give the
// same numbers.
func synthPoint(id string, t time.Time, period int64) monitorPoint {
	h := sha256.Sum256([]byte(id + "|" + t.UTC().Format(timeLayout)))
	rx := int64(binary.BigEndian.Uint32(h[0:4]) % 5_000_000)
	tx := int64(binary.BigEndian.Uint32(h[4:8]) % 5_000_000)
	packets := (rx + tx) / 600
	return monitorPoint{
		TimeStamp: t.UTC().Format(timeLayout), EipRX: rx, EipTX: tx, EipFlow: rx + tx,
		EipPackets: packets, EipBandwidth: (rx + tx) * 8 / period,
	}
}

func (s *state) openService(c *call) (any, *apiError) {
	// Opening is idempotent: the first call activates the service, later calls change nothing.
	s.Opened[c.op.Action] = true
	return codeMessage{RequestId: c.reqID, Code: "200", Message: "successful"}, nil
}

type publicIPResponse struct {
	RequestId string
	IpAddress string
}

func (s *state) allocatePublicIpAddress(c *call) (any, *apiError) {
	in := s.instance(c.get("InstanceId"))
	switch {
	case in == nil:
		return nil, c.fail(spec.StateInstanceNotFound)
	case in.LockReason == "security":
		return nil, c.fail(spec.StateInstanceLocked)
	case in.Expired:
		return nil, c.fail(spec.StateInstanceExpired)
	case in.Status != StatusRunning && in.Status != StatusStopped:
		return nil, c.fail(spec.StateInstanceStatus)
	case c.get("VlanId") != "":
		return nil, c.fail(spec.StateVlanNotFound)
	case in.InternetMaxBandwidthOut <= 0:
		return nil, c.fail(spec.StateInstanceZeroBandwidth)
	case s.PublicIPs[in.ID] != "" || s.eipOf(in.ID) != nil:
		return nil, c.fail(spec.StateInstanceHasPublicIP)
	}
	ip := c.get("IpAddress")
	if ip != "" {
		if s.inUse(ip) {
			return nil, c.fail(spec.StateIPInUse)
		}
	} else {
		var ok bool
		if ip, ok = s.nextAddress(c.now); !ok {
			return nil, c.fail(spec.StateAddressesExhausted)
		}
	}
	s.PublicIPs[in.ID] = ip
	return publicIPResponse{RequestId: c.reqID, IpAddress: ip}, nil
}

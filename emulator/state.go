package emulator

import (
	"fmt"
	"net/netip"
	"time"
)

// EIP is one elastic IP address in the emulator's state.
type EIP struct {
	AllocationID       string    `json:"allocationId"`
	IPAddress          string    `json:"ipAddress"`
	RegionID           string    `json:"regionId"`
	Name               string    `json:"name,omitempty"`
	Description        string    `json:"description,omitempty"`
	Bandwidth          int64     `json:"bandwidth"`
	ChargeType         string    `json:"chargeType"`         // PostPaid or PrePaid
	InternetChargeType string    `json:"internetChargeType"` // PayByBandwidth or PayByTraffic
	ISP                string    `json:"isp"`
	Netmode            string    `json:"netmode"`
	ResourceGroupID    string    `json:"resourceGroupId"`
	Status             string    `json:"status"` // Available or InUse
	InstanceID         string    `json:"instanceId,omitempty"`
	InstanceType       string    `json:"instanceType,omitempty"`
	InstanceRegionID   string    `json:"instanceRegionId,omitempty"`
	Mode               string    `json:"mode,omitempty"`
	PrivateIPAddress   string    `json:"privateIpAddress,omitempty"`
	AllocationTime     time.Time `json:"allocationTime"`
	ExpiredTime        time.Time `json:"expiredTime,omitzero"`
	LockReason         string    `json:"lockReason,omitempty"`
	PoolID             string    `json:"publicIpAddressPoolId,omitempty"`
	Zone               string    `json:"zone,omitempty"`
	Protection         []string  `json:"securityProtectionTypes,omitempty"`
}

// EIP statuses.
const (
	eipAvailable = "Available"
	eipInUse     = "InUse"
)

// released remembers an address given back, for re-allocation within the window.
type released struct {
	IPAddress    string    `json:"ipAddress"`
	AllocationID string    `json:"allocationId"`
	RegionID     string    `json:"regionId"`
	At           time.Time `json:"at"`
}

// tokenEntry is the remembered result of an idempotent call.
type tokenEntry struct {
	Fingerprint  string `json:"fingerprint"`
	AllocationID string `json:"allocationId"`
	OrderID      int64  `json:"orderId,omitempty"`
}

// state is everything the API changes. It is guarded by Server.mu.
type state struct {
	World        World                 `json:"world"`
	EIPs         map[string]*EIP       `json:"eips"`
	Released     []released            `json:"released"`
	Tokens       map[string]tokenEntry `json:"tokens"`
	PublicIPs    map[string]string     `json:"publicIps"` // ECS instance ID -> public IP
	Opened       map[string]bool       `json:"opened"`    // service activations (action names)
	NextEIP      uint64                `json:"nextEip"`
	NextOrder    int64                 `json:"nextOrder"`
	NextRequest  uint64                `json:"nextRequest"`
	AddressIndex int                   `json:"addressIndex"`
}

func newState(w World) *state {
	return &state{
		World:     w,
		EIPs:      map[string]*EIP{},
		Tokens:    map[string]tokenEntry{},
		PublicIPs: map[string]string{},
		Opened:    map[string]bool{},
		NextOrder: 100000,
	}
}

// reallocationWindow is how long a released address can be asked for again (002: "only IP
// addresses used within the last seven days can be allocated").
const reallocationWindow = 7 * 24 * time.Hour

// addressBlocks are the documentation ranges addresses come from (RFC 5737).
var addressBlocks = []netip.Prefix{
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
}

// addressCount is the number of usable addresses (.1 to .254 of each block).
const addressCount = 3 * 254

// addresses lists every usable address once, in hand-out order.
var addresses = func() []string {
	out := make([]string, addressCount)
	for i := range out {
		b := addressBlocks[i/254].Addr().As4()
		b[3] = byte(i%254 + 1)
		out[i] = netip.AddrFrom4(b).String()
	}
	return out
}()

// inUse reports whether an address is held by an EIP or an ECS public IP.
func (s *state) inUse(ip string) bool {
	for _, e := range s.EIPs {
		if e.IPAddress == ip {
			return true
		}
	}
	for _, p := range s.PublicIPs {
		if p == ip {
			return true
		}
	}
	return false
}

func (s *state) recentlyReleased(ip string, now time.Time) bool {
	for _, r := range s.Released {
		if r.IPAddress == ip && now.Sub(r.At) < reallocationWindow {
			return true
		}
	}
	return false
}

// nextAddress hands out the next free documentation address. Recently released addresses
// are kept for re-allocation by their owner while anything else is free; when nothing else
// is, the one released longest ago is reused and can no longer be re-allocated.
func (s *state) nextAddress(now time.Time) (string, bool) {
	held := make(map[string]bool, len(s.EIPs)+len(s.PublicIPs))
	for _, e := range s.EIPs {
		held[e.IPAddress] = true
	}
	for _, p := range s.PublicIPs {
		held[p] = true
	}
	reserved := make(map[string]bool, len(s.Released))
	for _, r := range s.Released {
		if now.Sub(r.At) < reallocationWindow {
			reserved[r.IPAddress] = true
		}
	}
	for n := 0; n < addressCount; n++ {
		i := (s.AddressIndex + n) % addressCount
		ip := addresses[i]
		if !held[ip] && !reserved[ip] {
			s.AddressIndex = (i + 1) % addressCount
			return ip, true
		}
	}
	for i, r := range s.Released { // oldest first
		if !held[r.IPAddress] {
			s.Released = append(s.Released[:i:i], s.Released[i+1:]...)
			return r.IPAddress, true
		}
	}
	return "", false
}

func (s *state) newAllocationID() string {
	s.NextEIP++
	return fmt.Sprintf("eip-emu%014d", s.NextEIP)
}

// requestID returns a fresh, deterministic request ID.
func (s *state) requestID() string {
	s.NextRequest++
	n := s.NextRequest
	// E0C0FFEE-XXXX-4XXX-8XXX-XXXXXXXXXXXX, the shape of the gateway's request IDs.
	const hexDigits = "0123456789ABCDEF"
	b := []byte("E0C0FFEE-0000-4000-8000-000000000000")
	for i, shift := len(b)-1, uint(0); i >= 9 && shift < 64; i-- {
		if b[i] == '-' || i == 14 || i == 19 {
			continue // separators and the fixed version and variant digits
		}
		b[i] = hexDigits[(n>>shift)&0xF]
		shift += 4
	}
	return string(b)
}

func (s *state) instance(id string) *Instance {
	for i := range s.World.Instances {
		if s.World.Instances[i].ID == id {
			return &s.World.Instances[i]
		}
	}
	return nil
}

func (s *state) eni(id string) *NetworkInterface {
	for i := range s.World.NetworkInterfaces {
		if s.World.NetworkInterfaces[i].ID == id {
			return &s.World.NetworkInterfaces[i]
		}
	}
	return nil
}

// eipOf returns the EIP associated with an instance or ENI (the first, for MULTI_BINDED).
func (s *state) eipOf(instanceID string) *EIP {
	for _, e := range s.EIPs {
		if e.InstanceID == instanceID {
			return e
		}
	}
	return nil
}

func (s *state) countInRegion(region string) int {
	n := 0
	for _, e := range s.EIPs {
		if e.RegionID == region {
			n++
		}
	}
	return n
}

func (s *state) pruneReleased(now time.Time) {
	kept := s.Released[:0]
	for _, r := range s.Released {
		if now.Sub(r.At) < reallocationWindow {
			kept = append(kept, r)
		}
	}
	s.Released = kept
}

// Package world describes what an account owns before any API call — regions, ECS
// instances, secondary ENIs, resource groups, IP address pools — in the file format the
// emulator and the conformance engine share. Nothing in the EIP API can create or list
// these, so both sides read the same world file.
//
//	w, err := world.Load("world.json")
//	if err != nil {
//		return err
//	}
//	running := w.InstancesIn("cn-hangzhou", world.StatusRunning)
package world

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
)

// World is what an account owns before any API call.
//
//	w := world.Default()
//	srv, err := emulator.New(emulator.Options{World: &w})
type World struct {
	// Regions are the regions that exist, with the EIP quota of each.
	Regions []Region `json:"regions"`
	// Instances are ECS instances in various states.
	Instances []Instance `json:"instances"`
	// NetworkInterfaces are secondary ENIs that EIPs can be associated with.
	NetworkInterfaces []NetworkInterface `json:"networkInterfaces"`
	// ResourceGroups are the resource group IDs that exist.
	ResourceGroups []string `json:"resourceGroups"`
	// PublicIPAddressPools are IP address pools usable once the pool service is open.
	PublicIPAddressPools []string `json:"publicIpAddressPools"`
}

// Region is one region.
type Region struct {
	ID string `json:"id"`
	// EipQuota is the number of EIPs the account may hold in the region.
	EipQuota int `json:"eipQuota"`
}

// Instance is one ECS instance.
type Instance struct {
	ID       string `json:"id"`
	RegionID string `json:"regionId"`
	// Status is Running, Stopped, Starting, Stopping or Pending.
	Status string `json:"status"`
	// VPC is false for classic-network instances, which cannot hold an EIP.
	VPC bool `json:"vpc"`
	// LockReason is "security" for an instance locked for security reasons.
	LockReason string `json:"lockReason,omitempty"`
	// Expired marks a subscription instance that has expired or is in arrears.
	Expired bool `json:"expired,omitempty"`
	// InternetMaxBandwidthOut is the instance's outbound bandwidth; 0 forbids a public IP.
	InternetMaxBandwidthOut int `json:"internetMaxBandwidthOut"`
}

// NetworkInterface is one secondary ENI.
type NetworkInterface struct {
	ID       string `json:"id"`
	RegionID string `json:"regionId"`
}

// Instance statuses the emulator knows.
const (
	StatusRunning = "Running"
	StatusStopped = "Stopped"
)

// Default is the world the emulator starts with when no world file is given, and the one
// "eipconform run" assumes for the embedded emulator:
//
//   - regions cn-hangzhou (quota 20), cn-beijing (quota 20), ap-southeast-1 (quota 20);
//   - in cn-hangzhou: Running VPC instances i-emu-running-1 .. i-emu-running-4, the Stopped
//     VPC instance i-emu-stopped, i-emu-locked (locked for security), i-emu-expired
//     (expired), i-emu-nobandwidth (outbound bandwidth 0), i-emu-starting (Starting),
//     i-emu-classic (classic network); in cn-beijing the Running VPC instance i-emu-beijing;
//   - the secondary ENIs eni-emu-multi-1 (cn-hangzhou, for MULTI_BINDED) and
//     eni-emu-beijing;
//   - resource groups rg-emu-default and rg-emu-test;
//   - the IP address pool pippool-emu-1.
func Default() World {
	run := func(id string) Instance {
		return Instance{ID: id, RegionID: "cn-hangzhou", Status: StatusRunning, VPC: true, InternetMaxBandwidthOut: 5}
	}
	locked, expired, nobw, starting, classic, stopped := run("i-emu-locked"), run("i-emu-expired"), run("i-emu-nobandwidth"), run("i-emu-starting"), run("i-emu-classic"), run("i-emu-stopped")
	locked.LockReason = "security"
	expired.Expired = true
	nobw.InternetMaxBandwidthOut = 0
	starting.Status = "Starting"
	classic.VPC = false
	stopped.Status = StatusStopped
	beijing := run("i-emu-beijing")
	beijing.RegionID = "cn-beijing"
	return World{
		Regions: []Region{{ID: "cn-hangzhou", EipQuota: 20}, {ID: "cn-beijing", EipQuota: 20}, {ID: "ap-southeast-1", EipQuota: 20}},
		Instances: []Instance{run("i-emu-running-1"), run("i-emu-running-2"), run("i-emu-running-3"), run("i-emu-running-4"),
			stopped, locked, expired, nobw, starting, classic, beijing},
		NetworkInterfaces:    []NetworkInterface{{ID: "eni-emu-multi-1", RegionID: "cn-hangzhou"}, {ID: "eni-emu-beijing", RegionID: "cn-beijing"}},
		ResourceGroups:       []string{"rg-emu-default", "rg-emu-test"},
		PublicIPAddressPools: []string{"pippool-emu-1"},
	}
}

// maxWorldFile bounds the size of a world file.
const maxWorldFile = 4 << 20

// Load reads a world file (JSON, the format of World). Unknown fields, duplicate IDs,
// instances in unknown regions and negative quotas are errors that name the entry.
func Load(path string) (World, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return World{}, fmt.Errorf("world: %w", err)
	}
	w, err := Parse(data)
	if err != nil {
		return World{}, fmt.Errorf("world %s: %w", path, err)
	}
	return w, nil
}

// Parse parses and validates a world document.
func Parse(data []byte) (World, error) {
	if len(data) > maxWorldFile {
		return World{}, fmt.Errorf("%d bytes, more than the %d allowed", len(data), maxWorldFile)
	}
	var w World
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return World{}, fmt.Errorf("not a world document: %v", err)
	}
	return w, w.Validate()
}

// Validate checks the world's internal consistency.
func (w World) Validate() error {
	if len(w.Regions) == 0 {
		return fmt.Errorf("regions: empty; want at least one region")
	}
	ids := map[string]string{}
	claim := func(kind, id string) error {
		if id == "" {
			return fmt.Errorf("%s with an empty id", kind)
		}
		if prev, ok := ids[id]; ok {
			return fmt.Errorf("%s %q: id already used by a %s", kind, id, prev)
		}
		ids[id] = kind
		return nil
	}
	regions := map[string]bool{}
	for i, r := range w.Regions {
		if err := claim("region", r.ID); err != nil {
			return fmt.Errorf("regions[%d]: %v", i, err)
		}
		if r.EipQuota < 0 {
			return fmt.Errorf("regions[%d] (%s): eipQuota %d; want 0 or more", i, r.ID, r.EipQuota)
		}
		regions[r.ID] = true
	}
	for i, in := range w.Instances {
		if err := claim("instance", in.ID); err != nil {
			return fmt.Errorf("instances[%d]: %v", i, err)
		}
		if !regions[in.RegionID] {
			return fmt.Errorf("instances[%d] (%s): region %q is not in regions", i, in.ID, in.RegionID)
		}
		if in.Status == "" {
			return fmt.Errorf("instances[%d] (%s): status is empty; want Running, Stopped, Starting, Stopping or Pending", i, in.ID)
		}
		if in.InternetMaxBandwidthOut < 0 {
			return fmt.Errorf("instances[%d] (%s): internetMaxBandwidthOut %d; want 0 or more", i, in.ID, in.InternetMaxBandwidthOut)
		}
	}
	for i, n := range w.NetworkInterfaces {
		if err := claim("network interface", n.ID); err != nil {
			return fmt.Errorf("networkInterfaces[%d]: %v", i, err)
		}
		if !regions[n.RegionID] {
			return fmt.Errorf("networkInterfaces[%d] (%s): region %q is not in regions", i, n.ID, n.RegionID)
		}
	}
	for i, g := range w.ResourceGroups {
		if err := claim("resource group", g); err != nil {
			return fmt.Errorf("resourceGroups[%d]: %v", i, err)
		}
	}
	for i, p := range w.PublicIPAddressPools {
		if err := claim("public IP address pool", p); err != nil {
			return fmt.Errorf("publicIpAddressPools[%d]: %v", i, err)
		}
	}
	return nil
}

// Region returns the region with the given ID.
func (w World) Region(id string) (Region, bool) {
	i := slices.IndexFunc(w.Regions, func(r Region) bool { return r.ID == id })
	if i < 0 {
		return Region{}, false
	}
	return w.Regions[i], true
}

// InstancesIn returns the VPC instances of a region with the given status, not locked, not
// expired and with outbound bandwidth, in file order: the instances an EIP or a public IP can
// be given to.
func (w World) InstancesIn(region, status string) []Instance {
	var out []Instance
	for _, in := range w.Instances {
		if in.RegionID == region && in.Status == status && in.VPC && in.LockReason == "" && !in.Expired && in.InternetMaxBandwidthOut > 0 {
			out = append(out, in)
		}
	}
	return out
}

package emulator

import "github.com/eipconform/eipconform/world"

// The world types live in package world, which the conformance engine shares; these aliases
// keep the emulator's API self-contained.
type (
	// World is what the account owns before any API call; see world.World.
	World = world.World
	// Region is one region with its EIP quota.
	Region = world.Region
	// Instance is one ECS instance.
	Instance = world.Instance
	// NetworkInterface is one secondary ENI.
	NetworkInterface = world.NetworkInterface
)

// Instance statuses the emulator knows.
const (
	StatusRunning = world.StatusRunning
	StatusStopped = world.StatusStopped
)

// DefaultWorld is world.Default: the world the emulator starts with when no world file is
// given, and the one "eipconform run" assumes for the embedded emulator.
func DefaultWorld() World { return world.Default() }

// LoadWorld reads a world file (world.Load).
func LoadWorld(path string) (World, error) { return world.Load(path) }

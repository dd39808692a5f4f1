// Package tuning holds the runtime settings eipconform's commands run with, so that the
// benchmarks that stand for a command (a default run, the emulator's capacity) measure it as
// it runs.
//
//	func main() {
//		tuning.Apply()
//		...
//	}
package tuning

import (
	"os"
	"runtime/debug"
)

// GCPercent is the garbage collector's goal (GOGC) the commands use unless the environment
// sets GOGC. A default run allocates about 220 MB while its live heap stays near 10 MB, so
// at Go's default (100) it collects every few MB; at 400 the default run is about a sixth
// faster and its peak RSS grows from about 34 MB to about 54 MB (see the README's
// Performance section for how it was measured).
const GCPercent = 400

// Apply sets the garbage collector's goal to GCPercent, unless GOGC is set in the
// environment (the user's choice stands), and returns a function that restores the earlier
// goal.
//
//	defer tuning.Apply()()
func Apply() (restore func()) {
	if _, ok := os.LookupEnv("GOGC"); ok {
		return func() {}
	}
	old := debug.SetGCPercent(GCPercent)
	return func() { debug.SetGCPercent(old) }
}

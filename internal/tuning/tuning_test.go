package tuning_test

import (
	"os"
	"runtime/debug"
	"testing"

	"github.com/eipconform/eipconform/internal/tuning"
)

// gcPercent reads the garbage collector's goal without changing it.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		name      string
		gogc      *string // nil: GOGC unset
		want      int
		wantAfter int
	}{
		{name: "GOGC unset", want: tuning.GCPercent, wantAfter: 150},
		{name: "GOGC set", gogc: new("150"), want: 150, wantAfter: 150},
		{name: "GOGC=off set", gogc: new("off"), want: 150, wantAfter: 150},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.gogc != nil {
				t.Setenv("GOGC", *tc.gogc)
			} else {
				t.Setenv("GOGC", "")
				unsetenv(t, "GOGC")
			}
			defer debug.SetGCPercent(debug.SetGCPercent(150)) // the "earlier goal" of the test, restored after it
			restore := tuning.Apply()
			if got := gcPercent(); got != tc.want {
				t.Errorf("after Apply with %s: GC percent %d, want %d", tc.name, got, tc.want)
			}
			restore()
			if got := gcPercent(); got != tc.wantAfter {
				t.Errorf("after Apply's restore with %s: GC percent %d, want %d", tc.name, got, tc.wantAfter)
			}
		})
	}
}

// unsetenv unsets key for the rest of the test (t.Setenv first, which restores it after).
func unsetenv(t *testing.T, key string) {
	t.Helper()
	if err := os.Unsetenv(key); err != nil {
		t.Fatal(err)
	}
}

package world_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eipconform/eipconform/world"
)

func TestDefaultIsValid(t *testing.T) {
	w := world.Default()
	if err := w.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	if got := len(w.InstancesIn("cn-hangzhou", world.StatusRunning)); got < 4 {
		t.Errorf("InstancesIn(cn-hangzhou, Running) = %d instances, want at least 4 usable ones", got)
	}
	for _, in := range w.InstancesIn("cn-hangzhou", world.StatusRunning) {
		if in.LockReason != "" || in.Expired || !in.VPC || in.InternetMaxBandwidthOut == 0 {
			t.Errorf("InstancesIn returned unusable instance %+v", in)
		}
	}
}

func TestParseErrorsNameTheEntry(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"unknown field", `{"regions":[{"id":"r","eipQuota":1}],"colour":1}`, `unknown field "colour"`},
		{"no regions", `{"regions":[]}`, "regions: empty"},
		{"duplicate id", `{"regions":[{"id":"r","eipQuota":1}],"instances":[{"id":"r","regionId":"r","status":"Running"}]}`, `instances[0]: instance "r": id already used by a region`},
		{"unknown region", `{"regions":[{"id":"r","eipQuota":1}],"instances":[{"id":"i","regionId":"x","status":"Running"}]}`, `instances[0] (i): region "x" is not in regions`},
		{"negative quota", `{"regions":[{"id":"r","eipQuota":-1}]}`, "eipQuota -1"},
		{"not json", `regions: []`, "not a world document"},
	} {
		_, err := world.Parse([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Parse error = %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.json")
	if err := os.WriteFile(path, []byte(`{"regions":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := world.Load(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Load(bad file) error = %v, want it to name %s", err, path)
	}
}

package emulator_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/eipconform/eipconform/emulator"
	"github.com/eipconform/eipconform/spec"
)

// describeAll returns every EIP of cn-hangzhou as DescribeEipAddresses lists it.
func describeAll(e *env) []map[string]any {
	e.t.Helper()
	d := e.ok("DescribeEipAddresses", "PageSize", "50")
	var out []map[string]any
	for _, it := range d["EipAddresses"].(map[string]any)["EipAddress"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

func TestStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	w := emulator.DefaultWorld()
	w.ResourceGroups = append(w.ResourceGroups, "rg-persist")

	first := newEnv(t, emulator.Options{StatePath: path, World: &w})
	tok := first.ok("AllocateEipAddress", "ClientToken", "tok-persist", "Name", "kept")
	bound := first.ok("AllocateEipAddress", "ResourceGroupId", "rg-persist", "Bandwidth", "7")
	first.ok("AssociateEipAddress", "AllocationId", str(bound, "AllocationId"), "InstanceId", "i-emu-running-2")
	gone := first.ok("AllocateEipAddress")
	first.ok("ReleaseEipAddress", "AllocationId", str(gone, "AllocationId"))
	first.ok("OpenPublicIpAddressPoolService")
	before := describeAll(first)
	if err := first.srv.SaveState(); err != nil {
		t.Fatalf("SaveState: %v", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range entries {
		names = append(names, de.Name())
	}
	if diff := cmp.Diff([]string{"state.json"}, names); diff != "" {
		t.Errorf("the directory after SaveState mismatch (-want +got), no temporary file may remain:\n%s", diff)
	}

	// A restart with another world: the state file's world wins.
	second := newEnv(t, emulator.Options{StatePath: path})
	if diff := cmp.Diff(w, second.srv.World()); diff != "" {
		t.Errorf("World() after restart mismatch (-saved +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, describeAll(second), cmpopts.IgnoreMapEntries(func(k string, _ any) bool { return k == "RequestId" })); diff != "" {
		t.Errorf("DescribeEipAddresses after restart mismatch (-before +after):\n%s", diff)
	}
	again := second.ok("AllocateEipAddress", "ClientToken", "tok-persist", "Name", "kept")
	for _, k := range []string{"AllocationId", "EipAddress"} {
		if again[k] != tok[k] {
			t.Errorf("the same ClientToken after restart: %s %v, want %v", k, again[k], tok[k])
		}
	}
	back := second.ok("AllocateEipAddress", "IpAddress", str(gone, "EipAddress"))
	if str(back, "EipAddress") != str(gone, "EipAddress") {
		t.Errorf("re-allocating %s (released before the restart): got %s", str(gone, "EipAddress"), str(back, "EipAddress"))
	}
	fresh := second.ok("AllocateEipAddress")
	used := []string{str(tok, "AllocationId"), str(bound, "AllocationId"), str(gone, "AllocationId")}
	if slices.Contains(used, str(fresh, "AllocationId")) {
		t.Errorf("a new allocation after restart got AllocationId %s, already used by one of %v", str(fresh, "AllocationId"), used)
	}
	usedIPs := []string{str(tok, "EipAddress"), str(bound, "EipAddress"), str(gone, "EipAddress")}
	if slices.Contains(usedIPs, str(fresh, "EipAddress")) {
		t.Errorf("a new allocation after restart got address %s, held or reserved: %v", str(fresh, "EipAddress"), usedIPs)
	}
	// The pool service stayed open.
	second.ok("AllocateEipAddress", "PublicIpAddressPoolId", "pippool-emu-1")
	// The association survived: the instance still holds its EIP.
	second.fails(spec.StateInstanceHasEip, "AssociateEipAddress", "AllocationId", str(fresh, "AllocationId"), "InstanceId", "i-emu-running-2")
}

func TestSaveStateWithoutPath(t *testing.T) {
	srv, _ := newServer(t, emulator.Options{})
	if err := srv.SaveState(); err != nil {
		t.Errorf("SaveState without a StatePath = %v, want nil", err)
	}
}

func TestMissingStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.json")
	w := emulator.DefaultWorld()
	w.Regions[0].EipQuota = 3
	e := newEnv(t, emulator.Options{StatePath: path, World: &w})
	if diff := cmp.Diff(w, e.srv.World()); diff != "" {
		t.Errorf("World() with a missing state file mismatch (-want +got):\n%s", diff)
	}
	if got := describeAll(e); len(got) != 0 {
		t.Errorf("a missing state file: %d EIPs, want none", len(got))
	}
	if _, err := os.Stat(path); err == nil {
		t.Errorf("New created %s; only SaveState writes it", path)
	}
}

// TestCorruptStateFile guards the promise that a bad state file is never silently replaced.
func TestCorruptStateFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	e := newEnv(t, emulator.Options{StatePath: good})
	e.ok("AllocateEipAddress")
	if err := e.srv.SaveState(); err != nil {
		t.Fatalf("SaveState: %v", err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	// edit decodes the good file, changes it and encodes it again.
	edit := func(f func(doc map[string]any)) []byte {
		var doc map[string]any
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("the saved state is not JSON: %v", err)
		}
		f(doc)
		out, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	eips := func(doc map[string]any) map[string]any { return doc["state"].(map[string]any)["eips"].(map[string]any) }
	for _, tc := range []struct {
		name string
		data []byte
		want []string
	}{
		{"truncated", data[:len(data)/2], []string{"corrupt"}},
		{"empty", []byte{}, []string{"corrupt"}},
		{"not JSON", []byte("version=1\n"), []string{"corrupt"}},
		{"version 2", edit(func(doc map[string]any) { doc["version"] = 2 }), []string{"version 2"}},
		{"no version", edit(func(doc map[string]any) { delete(doc, "version") }), []string{"version 0"}},
		{"no state", edit(func(doc map[string]any) { delete(doc, "state") }), []string{"state"}},
		{"unknown top-level field", edit(func(doc map[string]any) { doc["extra"] = true }), []string{`"extra"`}},
		{"unknown EIP field", edit(func(doc map[string]any) {
			for _, v := range eips(doc) {
				v.(map[string]any)["colour"] = "blue"
			}
		}), []string{`"colour"`}},
		{"EIP key not its allocationId", edit(func(doc map[string]any) {
			m := eips(doc)
			for k, v := range m {
				delete(m, k)
				m["eip-elsewhere"] = v
			}
		}), []string{`"eip-elsewhere"`}},
		{"null EIP", edit(func(doc map[string]any) {
			m := eips(doc)
			for k := range m {
				m[k] = nil
			}
		}), nil},
		{"invalid world", edit(func(doc map[string]any) {
			doc["state"].(map[string]any)["world"].(map[string]any)["regions"] = []any{}
		}), []string{"world"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			srv, err := emulator.New(emulator.Options{StatePath: path})
			if err == nil {
				t.Fatalf("New with a %s state file: no error, want one (the server has %d keys)", tc.name, len(srv.Keys()))
			}
			for _, w := range append([]string{path, "refus"}, tc.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New with a %s state file: error %q, want it to mention %q", tc.name, err, w)
				}
			}
			after, rerr := os.ReadFile(path)
			if rerr != nil || !bytes.Equal(after, tc.data) {
				t.Errorf("New with a %s state file changed the file (read error %v)", tc.name, rerr)
			}
		})
	}
}

// TestEveryChangeIsSavedBeforeItsAnswer: with a StatePath, the file holds every change an
// answer acknowledged (a server started from it lists the same EIPs), and requests that
// change nothing do not write it.
func TestEveryChangeIsSavedBeforeItsAnswer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	e := newEnv(t, emulator.Options{StatePath: path})
	ignoreRequestID := cmpopts.IgnoreMapEntries(func(k string, _ any) bool { return k == "RequestId" })
	// onDisk is what a server started from the file now lists.
	onDisk := func() []map[string]any {
		t.Helper()
		return describeAll(newEnv(t, emulator.Options{StatePath: path}))
	}
	read := func() []byte {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("after an acknowledged change: %v", err)
		}
		return data
	}
	a := str(e.ok("AllocateEipAddress", "Name", "first"), "AllocationId")
	b := str(e.ok("AllocateEipAddress", "ClientToken", "tok-saved"), "AllocationId")
	for _, step := range []struct {
		action string
		kv     []string
	}{
		{"AssociateEipAddress", []string{"AllocationId", a, "InstanceId", "i-emu-running-1"}},
		{"ModifyEipAddressAttribute", []string{"AllocationId", b, "Name", "renamed", "Bandwidth", "9"}},
		{"UnassociateEipAddress", []string{"AllocationId", a, "InstanceId", "i-emu-running-1"}},
		{"ReleaseEipAddress", []string{"AllocationId", a}},
	} {
		e.ok(step.action, step.kv...)
		if diff := cmp.Diff(describeAll(e), onDisk(), ignoreRequestID); diff != "" {
			t.Errorf("after %s %v, the state file's EIPs mismatch the server's (-server +file):\n%s", step.action, step.kv, diff)
		}
	}
	before := read()
	e.ok("DescribeEipAddresses")
	e.ok("DescribeEipAddresses", "AllocationId", b)
	e.fails(spec.StateEipNotFound, "ReleaseEipAddress", "AllocationId", a)
	if !bytes.Equal(before, read()) {
		t.Errorf("two descriptions and a refused release wrote the state file; only acknowledged changes may")
	}
	e.ok("OpenPublicIpAddressPoolService")
	if bytes.Equal(before, read()) {
		t.Errorf("OpenPublicIpAddressPoolService was acknowledged but the state file did not change")
	}
}

// TestUnsavedChangeIsNotAcknowledged: when the state file cannot be written, a change is
// answered with the spec's ServiceUnavailable, never with success.
func TestUnsavedChangeIsNotAcknowledged(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, emulator.Options{StatePath: filepath.Join(dir, "state.json")})
	e.ok("AllocateEipAddress")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	want := protocolRef(t, spec.ErrUnavailable)
	e.failsWith(want.Status, want.Code, "AllocateEipAddress")
	e.ok("DescribeEipAddresses") // reads do not need the file
}

// TestConcurrentChangesAreAllSaved: changes that arrive together share writes of the state
// file, and each is in the file when its answer arrives.
func TestConcurrentChangesAreAllSaved(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	e := newEnv(t, emulator.Options{StatePath: path})
	const n = 16
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ids[i] = str(e.ok("AllocateEipAddress", "Name", fmt.Sprintf("concurrent-%d", i)), "AllocationId")
		})
	}
	wg.Wait()
	var got []string
	for _, eip := range describeAll(newEnv(t, emulator.Options{StatePath: path})) {
		got = append(got, eip["AllocationId"].(string))
	}
	slices.Sort(got)
	slices.Sort(ids)
	if diff := cmp.Diff(ids, got); diff != "" {
		t.Errorf("the EIPs in the state file after %d concurrent allocations mismatch (-acknowledged +file):\n%s", n, diff)
	}
}

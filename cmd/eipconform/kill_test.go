package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
	"github.com/eipconform/eipconform/world"
)

// The kill test: "eipconform serve --state" is killed (SIGKILL, no shutdown) at a random
// moment of a concurrent write workload, then restarted on the same state file, round after
// round. Every restart must load the file (it is never torn), and the restarted server must
// hold every change it acknowledged before the kill: each client keeps a model of its own
// EIPs, and the one request it had in flight when the server died may or may not have taken
// effect, but nothing else may differ.

const (
	killRegion  = "cn-hangzhou"
	killClients = 8
	killPerEIPs = 4 // EIPs a client holds at most
)

// killRounds is how many times the server is killed: EIPCONFORM_KILL_ROUNDS, else 12 (4
// with -short).
func killRounds(t *testing.T) int {
	if s := os.Getenv("EIPCONFORM_KILL_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("EIPCONFORM_KILL_ROUNDS=%q: want a positive number", s)
		}
		return n
	}
	if testing.Short() {
		return 4
	}
	return 12
}

// killEIP is what a client knows of one of its EIPs.
type killEIP struct {
	Name     string
	Status   string
	Instance string
}

// killOp is one change a client sends.
type killOp struct {
	action string
	id     string // the EIP; "" for an allocation
	name   string // the new Name (allocations and renames)
}

// killClient is one writer: its instance, its EIPs as acknowledged, and the change it sent
// without an answer (the server died), if any.
type killClient struct {
	n        int
	instance string
	eips     map[string]killEIP
	pending  *killOp
	seq      int // changes sent
	acked    int // changes answered with success
}

// apply returns the client's EIPs after op took effect; id is the new EIP of an allocation.
func (c *killClient) apply(op killOp, id string) map[string]killEIP {
	out := make(map[string]killEIP, len(c.eips)+1)
	for k, v := range c.eips {
		out[k] = v
	}
	e := out[op.id]
	switch op.action {
	case "AllocateEipAddress":
		out[id] = killEIP{Name: op.name, Status: "Available"}
	case "AssociateEipAddress":
		e.Status, e.Instance = "InUse", c.instance
		out[op.id] = e
	case "UnassociateEipAddress":
		e.Status, e.Instance = "Available", ""
		out[op.id] = e
	case "ModifyEipAddressAttribute":
		e.Name = op.name
		out[op.id] = e
	case "ReleaseEipAddress":
		delete(out, op.id)
	}
	return out
}

// next picks the client's next change.
func (c *killClient) next(r *rand.Rand) killOp {
	c.seq++
	name := fmt.Sprintf("c%d-%d", c.n, c.seq)
	if len(c.eips) == 0 || len(c.eips) < killPerEIPs && r.IntN(3) == 0 {
		return killOp{action: "AllocateEipAddress", name: name}
	}
	ids := make([]string, 0, len(c.eips))
	bound := false
	for id, e := range c.eips {
		ids = append(ids, id)
		bound = bound || e.Instance != ""
	}
	slices.Sort(ids)
	id := ids[r.IntN(len(ids))]
	e := c.eips[id]
	switch r.IntN(3) {
	case 0:
		return killOp{action: "ModifyEipAddressAttribute", id: id, name: name}
	case 1:
		if e.Instance != "" {
			return killOp{action: "UnassociateEipAddress", id: id}
		}
		if !bound {
			return killOp{action: "AssociateEipAddress", id: id}
		}
	}
	if e.Instance != "" {
		return killOp{action: "UnassociateEipAddress", id: id}
	}
	return killOp{action: "ReleaseEipAddress", id: id}
}

// params are the request of op.
func (c *killClient) params(op killOp) url.Values {
	p := url.Values{"Action": {op.action}, "Version": {spec.Default().Operation(op.action).Version}, "RegionId": {killRegion}}
	switch op.action {
	case "AllocateEipAddress":
		p.Set("Name", op.name)
		p.Set("ClientToken", "tok-"+op.name)
	case "ModifyEipAddressAttribute":
		p.Set("AllocationId", op.id)
		p.Set("Name", op.name)
	case "AssociateEipAddress", "UnassociateEipAddress":
		p.Set("AllocationId", op.id)
		p.Set("InstanceId", c.instance)
	default:
		p.Set("AllocationId", op.id)
	}
	return p
}

// run sends changes until ctx ends or the server stops answering. A change the server
// answered is applied to the model; an answer other than success is an error (the model is
// exact, so every change is valid); a change without an answer stays pending.
// Each success is counted in done.
func (c *killClient) run(ctx context.Context, t *testing.T, cl *rpc.Client, r *rand.Rand, done *atomic.Int64) {
	for ctx.Err() == nil {
		op := c.next(r)
		c.pending = &op
		resp, err := cl.Do(ctx, c.params(op))
		if err != nil {
			return // the server was killed: op stays pending
		}
		if resp.Status != 200 {
			t.Errorf("client %d: %s: got %d %s, want 200\nrequest: %s", c.n, op.action, resp.Status, resp.Body, rpc.Redacted(resp.Params))
			return
		}
		id := op.id
		if op.action == "AllocateEipAddress" {
			var v struct{ AllocationId string }
			if err := json.Unmarshal(resp.Body, &v); err != nil || v.AllocationId == "" {
				t.Errorf("client %d: AllocateEipAddress: body %s has no AllocationId (%v)", c.n, resp.Body, err)
				return
			}
			id = v.AllocationId
		}
		c.eips, c.pending = c.apply(op, id), nil
		c.acked++
		done.Add(1)
	}
}

// killServer is one "eipconform serve" process.
type killServer struct {
	cmd    *exec.Cmd
	out    *bytes.Buffer
	client *rpc.Client
}

// eipconformExe returns a path that runs this test binary as the eipconform command
// (testscript.Main dispatches on the program's name).
func eipconformExe(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(t.TempDir(), "eipconform")
	if err := os.Symlink(self, exe); err != nil {
		t.Fatal(err)
	}
	return exe
}

// startServe starts "eipconform serve" on a free loopback port and waits for its address.
func startServe(t *testing.T, exe, dir string, args ...string) *killServer {
	t.Helper()
	addrFile := filepath.Join(dir, "addr")
	os.Remove(addrFile)
	var out bytes.Buffer
	cmd := exec.Command(exe, append([]string{"serve", "--addr", "127.0.0.1:0", "--addr-file", addrFile}, args...)...)
	cmd.Env = append(os.Environ(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &killServer{cmd: cmd, out: &out}
	t.Cleanup(func() { s.kill() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, err := os.ReadFile(addrFile)
		if err == nil && strings.HasSuffix(string(data), "\n") {
			sig := spec.Default().Signature
			s.client = &rpc.Client{Endpoint: "http://" + strings.TrimSpace(string(data)), AccessKeyID: sig.ExampleAccessKeyID,
				AccessKeySecret: sig.ExampleAccessKeySecret}
			return s
		}
		if time.Now().After(deadline) {
			s.kill()
			t.Fatalf("eipconform serve %s: no address in %s after 30 s; output:\n%s", strings.Join(args, " "), addrFile, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kill kills the process (SIGKILL) and waits for it; it may be called more than once.
func (s *killServer) kill() {
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

// stop ends the process with SIGINT and fails the test unless it exits cleanly.
func (s *killServer) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGINT)
	if err := s.cmd.Wait(); err != nil {
		t.Errorf("eipconform serve after SIGINT: %v; output:\n%s", err, s.out.String())
	}
}

// listing is every EIP of the region, by AllocationId.
func (s *killServer) listing(t *testing.T) map[string]killEIP {
	t.Helper()
	op := spec.Default().Operation("DescribeEipAddresses")
	p := url.Values{"Action": {op.Action}, "Version": {op.Version}, "RegionId": {killRegion}, "PageSize": {strconv.Itoa(killClients*killPerEIPs + 1)}}
	resp, err := s.client.Do(context.Background(), p)
	if err != nil || resp.Status != 200 {
		t.Fatalf("DescribeEipAddresses after a restart: %v %v; output:\n%s", err, resp, s.out.String())
	}
	var v struct {
		TotalCount   int
		EipAddresses struct {
			EipAddress []struct{ AllocationId, Name, Status, InstanceId string }
		}
	}
	if err := json.Unmarshal(resp.Body, &v); err != nil {
		t.Fatalf("DescribeEipAddresses after a restart: %s: %v", resp.Body, err)
	}
	out := map[string]killEIP{}
	for _, e := range v.EipAddresses.EipAddress {
		out[e.AllocationId] = killEIP{Name: e.Name, Status: e.Status, Instance: e.InstanceId}
	}
	if v.TotalCount != len(out) {
		t.Errorf("DescribeEipAddresses after a restart: TotalCount %d, but %d EIPs listed", v.TotalCount, len(out))
	}
	return out
}

// reconcile compares the restarted server with the clients' models: each client's EIPs must
// be its model, or its model after its pending change. It then makes the models exact.
func reconcile(t *testing.T, round int, got map[string]killEIP, clients []*killClient) {
	t.Helper()
	owner := map[string]*killClient{}
	for _, c := range clients {
		for id := range c.eips {
			owner[id] = c
		}
	}
	// An EIP no model has is the pending allocation of the client whose name it carries.
	extra := map[*killClient]string{}
	for id, e := range got {
		if owner[id] != nil {
			continue
		}
		var by *killClient
		for _, c := range clients {
			if c.pending != nil && c.pending.action == "AllocateEipAddress" && c.pending.name == e.Name && extra[c] == "" {
				by = c
			}
		}
		if by == nil {
			t.Errorf("round %d: the restarted server lists %s (%+v), which no client was told of and none was allocating", round, id, e)
			continue
		}
		extra[by], owner[id] = id, by
	}
	for _, c := range clients {
		mine := map[string]killEIP{}
		for id, e := range got {
			if owner[id] == c {
				mine[id] = e
			}
		}
		if cmp.Equal(c.eips, mine) {
			c.pending = nil
			continue
		}
		if c.pending != nil {
			if after := c.apply(*c.pending, extra[c]); cmp.Equal(after, mine) {
				c.eips, c.pending = after, nil
				continue
			}
		}
		t.Errorf("round %d: client %d's EIPs after the kill and restart mismatch what the server acknowledged (pending, maybe applied: %+v) (-want +got):\n%s",
			round, c.n, c.pending, cmp.Diff(c.eips, mine))
		c.eips, c.pending = mine, nil // go on from what the server has
	}
}

func TestKillDuringWrites(t *testing.T) {
	const seed = 1
	rounds := killRounds(t)
	exe := eipconformExe(t)
	dir := t.TempDir()
	w := world.World{Regions: []world.Region{{ID: killRegion, EipQuota: killClients*killPerEIPs + 4}}}
	clients := make([]*killClient, killClients)
	for i := range clients {
		id := fmt.Sprintf("i-kill-%d", i+1)
		w.Instances = append(w.Instances, world.Instance{ID: id, RegionID: killRegion, Status: world.StatusRunning, VPC: true, InternetMaxBandwidthOut: 5})
		clients[i] = &killClient{n: i + 1, instance: id, eips: map[string]killEIP{}}
	}
	worldFile := filepath.Join(dir, "world.json")
	data, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(worldFile, data, 0o666); err != nil {
		t.Fatal(err)
	}
	stateFile := filepath.Join(dir, "state.json")
	args := []string{"--world", worldFile, "--state", stateFile}
	r := rand.New(rand.NewPCG(seed, 0))
	for round := range rounds {
		s := startServe(t, exe, dir, args...)
		reconcile(t, round, s.listing(t), clients)
		if t.Failed() {
			t.Fatalf("reproduce: go test ./cmd/eipconform -run '^TestKillDuringWrites$' (seed %d, round %d)", seed, round)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var done atomic.Int64
		for _, c := range clients {
			cr := rand.New(rand.NewPCG(seed, uint64(round*killClients+c.n)))
			wg.Go(func() { c.run(ctx, t, s.client, cr, &done) })
		}
		// The kill comes at a random point of the workload: after a random number of answered
		// changes, while the clients have more in flight.
		want := int64(killClients + r.IntN(8*killClients))
		for deadline := time.Now().Add(time.Minute); done.Load() < want && time.Now().Before(deadline) && !t.Failed(); {
			time.Sleep(time.Millisecond)
		}
		s.kill()
		cancel()
		wg.Wait()
	}
	s := startServe(t, exe, dir, args...)
	reconcile(t, rounds, s.listing(t), clients)
	s.stop(t)
	temps, _ := filepath.Glob(filepath.Join(dir, ".state.json.tmp-*"))
	if len(temps) > 0 {
		t.Errorf("after a clean stop, temporary files remain beside the state file: %v", temps)
	}
	acked := 0
	for _, c := range clients {
		acked += c.acked
	}
	if acked < rounds {
		t.Errorf("only %d changes were acknowledged in %d rounds; the test did not exercise the server", acked, rounds)
	}
	if t.Failed() {
		t.Logf("reproduce: go test ./cmd/eipconform -run '^TestKillDuringWrites$' (seed %d)", seed)
	} else {
		t.Logf("%d rounds, %d acknowledged changes, none lost", rounds, acked)
	}
}

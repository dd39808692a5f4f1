package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eipconform/eipconform/emulator"
	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
)

// parseRun parses run's flags as the command line would and returns the configuration.
func parseRun(t *testing.T, args ...string) runConfig {
	t.Helper()
	fs := newFlagSet(&runCommand)
	cfg := declareRunFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parsing %q: %v", args, err)
	}
	return *cfg
}

func TestListFlag(t *testing.T) {
	var l listFlag
	for _, v := range []string{"DescribeEipAddresses/boundaries, protocol", "", "status,,"} {
		if err := l.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(listFlag{"DescribeEipAddresses/boundaries", "protocol", "status"}, l); diff != "" {
		t.Errorf("--only after three flags mismatch (-want +got):\n%s", diff)
	}
}

func TestRunTarget(t *testing.T) {
	sig := spec.Default().Signature
	t.Setenv(envAccessKeyID, "envid")
	t.Setenv(envAccessKeySecret, "envsecret")

	// No endpoint: the embedded emulator, with the example key even when the environment
	// has one (a real account's key has no business with a toy).
	tg, _, err := parseRun(t).target()
	if err != nil || tg.Handler == nil || tg.AccessKeyID != sig.ExampleAccessKeyID || tg.AccessKeySecret != sig.ExampleAccessKeySecret {
		t.Errorf("target() without flags = handler %v, key %q, %v; want the embedded emulator with the example key", tg.Handler != nil, tg.AccessKeyID, err)
	}
	// An endpoint: the key from the environment.
	tg, _, err = parseRun(t, "--endpoint", "http://127.0.0.1:8080").target()
	if err != nil || tg.Handler != nil || tg.URL != "http://127.0.0.1:8080" || tg.AccessKeyID != "envid" || tg.AccessKeySecret != "envsecret" {
		t.Errorf("target() with --endpoint = %q, key %q, %v; want the URL and the environment's key", tg.URL, tg.AccessKeyID, err)
	}
	// Per-product endpoints, all given.
	tg, _, err = parseRun(t, "--endpoint-vpc", "http://a:1", "--endpoint-vpcipam", "http://b:2", "--endpoint-ecs", "http://c:3").target()
	if diff := cmp.Diff(map[string]string{"Vpc": "http://a:1", "VpcIpam": "http://b:2", "Ecs": "http://c:3"}, tg.Endpoints); diff != "" || err != nil {
		t.Errorf("target() with per-product endpoints: %v; endpoints mismatch (-want +got):\n%s", err, diff)
	}
	// A dry run needs no key.
	t.Setenv(envAccessKeyID, "")
	tg, notes, err := parseRun(t, "--dry-run", "--endpoint", "http://192.0.2.1:9").target()
	if err != nil || tg.AccessKeyID == "" || len(notes) != 1 {
		t.Errorf("target() for a dry run without a key = key %q, notes %q, %v; want a placeholder key and a note", tg.AccessKeyID, notes, err)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--endpoint", "http://127.0.0.1:8080"}, "no access key: "},
		{[]string{"--endpoint-vpc", "http://a:1"}, "--endpoint-vpcipam, --endpoint-ecs not given"},
		{[]string{"--endpoint", "127.0.0.1:8080"}, "want an http:// or https:// URL"},
		{[]string{"--endpoint", "http://user:pw@127.0.0.1:8080"}, "user information in the URL"},
		{[]string{"--endpoint", "http://127.0.0.1:8080", "--endpoint-ecs", "http://"}, "--endpoint-ecs http://: no host"},
		{[]string{"--no-auth", "--access-key-id", "x", "--access-key-secret", "y"}, "cannot be combined"},
		{[]string{"--access-key-id", "x"}, "go together"},
	} {
		_, _, err := parseRun(t, tc.args...).target()
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("target() with %q = %v, want a usage error containing %q", tc.args, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("target() with %q: the error %q shows the URL's password", tc.args, err)
		}
	}
}

// runArgs runs "eipconform run ARGS" in-process and returns its stdout, stderr and status.
func runArgs(args ...string) (stdout, stderr string, status int) {
	var o, e bytes.Buffer
	status = run(append([]string{"run"}, args...), &o, &e)
	return o.String(), e.String(), status
}

// TestRunNeverPrintsTheSecret guards the promise that the access key's secret appears in
// no output: not on stdout, stderr, in the JSON or the JUnit report, not even in an error.
func TestRunNeverPrintsTheSecret(t *testing.T) {
	const id, secret = "conformid", "s3cr3t-never-printed"
	srv, err := emulator.New(emulator.Options{Keys: map[string]string{id: secret}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	dir := t.TempDir()
	jsonPath, junitPath := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.xml")
	t.Setenv(envAccessKeyID, id)
	t.Setenv(envAccessKeySecret, secret)

	stdout, stderr, status := runArgs("--endpoint", ts.URL, "--only", "DescribeEipAddresses/examples,DescribeEipAddresses/boundaries",
		"--verbose", "--json", jsonPath, "--junit", junitPath)
	if status != exitOK {
		t.Fatalf("run = %d, want 0\nstdout:\n%s\nstderr:\n%s", status, stdout, stderr)
	}
	// A wrong secret: violations, with requests and answers quoted.
	_, stderr2, _ := runArgs("--endpoint", ts.URL, "--only", "DescribeEipAddresses/examples", "--access-key-id", id, "--access-key-secret", secret+"x")
	outputs := map[string]string{"stdout": stdout, "stderr": stderr + stderr2}
	for _, p := range []string{jsonPath, junitPath} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		outputs[filepath.Base(p)] = string(data)
	}
	for name, out := range outputs {
		if strings.Contains(out, secret) {
			t.Errorf("%s contains the secret", name)
		}
	}
}

// TestRunInterrupted guards Ctrl-C: the run stops, the partial report is printed, the exit
// status is 1, and the janitor still releases everything the run allocated.
func TestRunInterrupted(t *testing.T) {
	srv, err := emulator.New(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	sig := spec.Default().Signature

	cfg := parseRun(t, "--endpoint", ts.URL, "--access-key-id", sig.ExampleAccessKeyID, "--access-key-secret", sig.ExampleAccessKeySecret)
	cfg.opts.Seed, cfg.opts.Cases, cfg.opts.Workers, cfg.opts.Timeout = 1, 5, 4, 10*time.Second
	cfg.opts.RateLimit = 400 // the whole run takes seconds; it is cancelled well before
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var stdout bytes.Buffer
	err = runCheck(ctx, func() {}, &stdout, io.Discard, cfg)
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("runCheck cancelled = %v, want an error saying it was interrupted", err)
	}
	if out := stdout.String(); !strings.Contains(out, "\nPARTIAL: the run was interrupted;") || !strings.Contains(out, "OPERATION") {
		t.Errorf("runCheck cancelled: stdout lacks the partial report:\n%s", out)
	}

	// Nothing the run allocated is left in any region.
	c := &rpc.Client{Endpoint: ts.URL, AccessKeyID: sig.ExampleAccessKeyID, AccessKeySecret: sig.ExampleAccessKeySecret}
	describe := spec.Default().Operation("DescribeEipAddresses")
	for _, region := range emulator.DefaultWorld().Regions {
		p := describe.BaseRequest()
		p.Set("RegionId", region.ID)
		resp, err := c.Do(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		var d struct{ TotalCount int }
		if err := json.Unmarshal(resp.Body, &d); err != nil || resp.Status != 200 {
			t.Fatalf("DescribeEipAddresses in %s: %d %s", region.ID, resp.Status, resp.Body)
		}
		if d.TotalCount != 0 {
			t.Errorf("after an interrupted run, %s has %d EIPs, want 0 (the janitor releases them): %s", region.ID, d.TotalCount, resp.Body)
		}
	}
}

func TestIsTerminal(t *testing.T) {
	if isTerminal(&bytes.Buffer{}) {
		t.Error("isTerminal(buffer) = true")
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("isTerminal(regular file) = true")
	}
}

// TestNoCommandPrintsTheSecret extends TestRunNeverPrintsTheSecret to every command and to
// the paths that echo their input: usage errors, a dry run, an unreachable endpoint, and
// serve's banner and request log, for good and badly signed requests. The secret is given
// where secrets go (--access-key-secret, --key ID:SECRET); a secret typed as another flag's
// value is that value, and errors quote it.
func TestNoCommandPrintsTheSecret(t *testing.T) {
	const id, secret = "conformid", "s3cr3t-sentinel-4711"
	dir := t.TempDir()
	for _, args := range [][]string{
		{"run", "--access-key-id", id, "--access-key-secret", secret, "--bogus"},
		{"run", "--access-key-id", id, "--access-key-secret", secret, "--endpoint", "ftp://example"},
		{"run", "--access-key-id", id, "--access-key-secret", secret, "--endpoint", "http://127.0.0.1:1", "--timeout", "1s", "--only", "DescribeEipAddresses/examples"},
		{"run", "--access-key-id", id, "--access-key-secret", secret, "--endpoint", "http://127.0.0.1:1", "--dry-run", "--only", "AllocateEipAddress"},
		{"run", "--access-key-id", id, "--access-key-secret", secret, "--world", filepath.Join(dir, "missing.json")},
		{"serve", "--key", id + ":" + secret, "--bogus"},
		{"serve", "--key", ":" + secret},
		{"serve", "--key", secret + ":"},
		{"serve", "--key", id + ":" + secret, "--addr", "256.0.0.1:99999"},
		{"serve", "--key", id + ":" + secret, "--world", filepath.Join(dir, "missing.json")},
		{"spec", "--access-key-secret", secret},
	} {
		var o, e bytes.Buffer
		status := run(args, &o, &e)
		if strings.Contains(o.String()+e.String(), secret) {
			t.Errorf("eipconform %s (exit %d) printed the secret:\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), status, o.String(), e.String())
		}
	}

	// serve: the banner and the log of accepted and refused requests.
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	addrFile := filepath.Join(dir, "addr")
	errc := make(chan error, 1)
	go func() {
		errc <- serve(ctx, &out, serveConfig{addr: "127.0.0.1:0", addrFile: addrFile, keys: map[string]string{id: secret}})
	}()
	var addr []byte
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var err error
		if addr, err = os.ReadFile(addrFile); err == nil || time.Now().After(deadline) {
			break
		}
	}
	endpoint := "http://" + strings.TrimSpace(string(addr))
	op := spec.Default().Operation("DescribeEipAddresses")
	for _, key := range []string{secret, secret + "x"} {
		c := &rpc.Client{Endpoint: endpoint, AccessKeyID: id, AccessKeySecret: key}
		resp, err := c.Do(context.Background(), op.BaseRequest())
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
		if strings.Contains(string(resp.Body), secret) {
			t.Errorf("serve answered a request signed with %s with a body holding the secret: %s", map[bool]string{true: "the secret", false: "a wrong secret"}[key == secret], resp.Body)
		}
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("serve: %v", err)
	}
	if s := out.String(); strings.Contains(s, secret) || !strings.Contains(s, id) {
		t.Errorf("serve's output holds the secret, or lacks the key ID:\n%s", s)
	}
}

// syncBuffer is a bytes.Buffer safe for a server's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

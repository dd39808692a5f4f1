package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/google/go-cmp/cmp"

	"github.com/eipconform/eipconform/emulator"
	"github.com/eipconform/eipconform/spec"
)

// TestMain runs the program's main instead of the tests when the environment asks for it, so
// TestMainExitStatus can run the real program (flags, output, exit status) in a child process.
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(mainArgsEnv); ok {
		os.Args = append([]string{"sdk"}, strings.Split(args, "\n")...)
		flag.CommandLine = flag.NewFlagSet("sdk", flag.ExitOnError)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// mainArgsEnv carries the program's arguments, one a line, to the child process.
const mainArgsEnv = "EIPCONFORM_SDK_EXAMPLE_ARGS"

// newEmulator starts an in-process emulator (the default world, signatures on) and returns its
// URL and a function that stops it and returns its log, one line per request.
func newEmulator(t *testing.T) (url string, stop func() string) {
	t.Helper()
	var log bytes.Buffer
	srv, err := emulator.New(emulator.Options{Log: &log})
	if err != nil {
		t.Fatalf("emulator.New: %v", err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts.URL, func() string {
		ts.Close() // waits for every request, so the log is complete
		return log.String()
	}
}

// defaultConfig is what the flags default to, against url.
func defaultConfig(url string) config {
	sig := spec.Default().Signature
	return config{endpoint: url, region: "cn-hangzhou", instance: "i-emu-running-1", key: sig.ExampleAccessKeyID, secret: sig.ExampleAccessKeySecret}
}

// wantSteps matches run's output, line by line: the same EIP throughout.
var wantSteps = []*regexp.Regexp{
	regexp.MustCompile(`^allocated    (eip-\S+) (\d+\.\d+\.\d+\.\d+)$`),
	regexp.MustCompile(`^associated   (eip-\S+) with i-emu-running-1$`),
	regexp.MustCompile(`^described    (eip-\S+) (\d+\.\d+\.\d+\.\d+) status InUse, instance i-emu-running-1$`),
	regexp.MustCompile(`^unassociated (eip-\S+) from i-emu-running-1$`),
	regexp.MustCompile(`^released     (eip-\S+)$`),
}

// checkSteps checks out against wantSteps.
func checkSteps(t *testing.T, out string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(wantSteps) {
		t.Fatalf("run printed %d lines, want %d:\n%s", len(lines), len(wantSteps), out)
	}
	var id, ip string
	for i, re := range wantSteps {
		m := re.FindStringSubmatch(lines[i])
		if m == nil {
			t.Fatalf("run's line %d = %q, want a match for %s\noutput:\n%s", i+1, lines[i], re, out)
		}
		if id == "" {
			id, ip = m[1], m[2]
		}
		if m[1] != id || (len(m) > 2 && m[2] != ip) {
			t.Errorf("run's line %d = %q, want EIP %s (%s) as allocated", i+1, lines[i], id, ip)
		}
	}
}

func TestRun(t *testing.T) {
	url, stop := newEmulator(t)
	var out bytes.Buffer
	if err := run(context.Background(), &out, defaultConfig(url)); err != nil {
		t.Fatalf("run against the emulator: %v\noutput so far:\n%s", err, &out)
	}
	checkSteps(t, out.String())

	// The emulator answered each step once, with 200.
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(stop()), "\n") {
		f := strings.Fields(line)
		got = append(got, strings.Join(f[:min(len(f), 2)], " "))
	}
	want := []string{"AllocateEipAddress 200", "AssociateEipAddress 200", "DescribeEipAddresses 200", "UnassociateEipAddress 200", "ReleaseEipAddress 200"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the emulator's log (action, status) mismatch (-want +got):\n%s", diff)
	}
}

func TestRunReturnsTheSDKError(t *testing.T) {
	url, _ := newEmulator(t)
	cfg := defaultConfig(url)
	cfg.instance = "i-nowhere"
	want := *spec.Default().Operation("AssociateEipAddress").StateRule(spec.StateInstanceNotFound).Error
	var out bytes.Buffer
	err := run(context.Background(), &out, cfg)
	var se *sdkerrors.ServerError
	if !errors.As(err, &se) {
		t.Fatalf("run with -instance i-nowhere = %v (%T), want an SDK *errors.ServerError %s", err, err, want)
	}
	if got := (spec.ErrorRef{Status: se.HttpStatus(), Code: se.ErrorCode()}); got != want {
		t.Errorf("run with -instance i-nowhere: ServerError %s, want %s", got, want)
	}
	if !strings.HasPrefix(out.String(), "allocated ") || strings.Contains(out.String(), "associated") {
		t.Errorf("run with -instance i-nowhere printed %q, want the allocation only", &out)
	}
}

func TestRunStopsWhenCancelled(t *testing.T) {
	url, _ := newEmulator(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, defaultConfig(url)); !errors.Is(err, context.Canceled) {
		t.Errorf("run with a cancelled context = %v, want context.Canceled", err)
	}
	if out.Len() != 0 {
		t.Errorf("run with a cancelled context printed %q, want nothing", &out)
	}
}

func TestRunRejectsBadEndpoints(t *testing.T) {
	for _, endpoint := range []string{"", "127.0.0.1:8080", "ftp://127.0.0.1:8080", "http://", "http://127.0.0.1:8080/api", "http://[::1"} {
		cfg := defaultConfig(endpoint)
		if err := run(context.Background(), new(bytes.Buffer), cfg); err == nil || !strings.Contains(err.Error(), "-endpoint") {
			t.Errorf("run with -endpoint %q = %v, want an error naming -endpoint", endpoint, err)
		}
	}
}

// TestMainExitStatus runs the program itself (this test binary, see TestMain): exit status 0
// and the five steps on success, 1 and the SDK's error on stderr on failure.
func TestMainExitStatus(t *testing.T) {
	url, _ := newEmulator(t)
	want := *spec.Default().Operation("AssociateEipAddress").StateRule(spec.StateInstanceNotFound).Error
	for _, tc := range []struct {
		name       string
		args       []string
		wantStatus int
		wantStderr string
	}{
		{"success", []string{"-endpoint", url}, 0, ""},
		{"unknown instance", []string{"-endpoint", url, "-instance", "i-nowhere"}, 1, "ErrorCode: " + want.Code},
		{"wrong secret", []string{"-endpoint", url, "-secret", "wrong"}, 1, "ErrorCode: " + protocolCode(spec.ErrSignatureMismatch)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), mainArgsEnv+"="+strings.Join(tc.args, "\n"))
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			status := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				status = exit.ExitCode()
			} else if err != nil {
				t.Fatalf("running the program: %v", err)
			}
			if status != tc.wantStatus || !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Fatalf("sdk %s: exit status %d, stderr %q; want %d and stderr containing %q", strings.Join(tc.args, " "), status, &stderr, tc.wantStatus, tc.wantStderr)
			}
			if tc.wantStatus == 0 {
				checkSteps(t, stdout.String())
			}
		})
	}
}

func protocolCode(id string) string {
	e, _ := spec.Default().ProtocolError(id)
	return e.Code
}

// TestREADMEExcerpt keeps the README honest: its section on the Go SDK shows, as its Go code
// block, exactly the lines of main.go between "// README:begin" and "// README:end".
func TestREADMEExcerpt(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok1 := strings.Cut(string(src), "// README:begin\n")
	excerpt, _, ok2 := strings.Cut(rest, "// README:end")
	if !ok1 || !ok2 {
		t.Fatalf("main.go has no region between // README:begin and // README:end lines")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const heading = "\n## Using the emulator from the Go SDK\n"
	_, section, ok := strings.Cut(string(readme), heading)
	if !ok {
		t.Fatalf("README.md has no section %q", strings.TrimSpace(heading))
	}
	section, _, _ = strings.Cut(section, "\n## ")
	_, block, ok1 := strings.Cut(section, "\n```go\n")
	block, _, ok2 = strings.Cut(block, "\n```\n")
	if !ok1 || !ok2 {
		t.Fatalf("README.md's section %q has no ```go block", strings.TrimSpace(heading))
	}
	if diff := cmp.Diff(strings.TrimSpace(excerpt), strings.TrimSpace(block)); diff != "" {
		t.Errorf("README.md's Go block is not main.go's README region (-main.go +README.md):\n%s\nfix: copy the lines between // README:begin and // README:end into README.md, then go test -run '^TestREADMEExcerpt$' ./examples/sdk/", diff)
	}
}

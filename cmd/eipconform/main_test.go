package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/spec"
)

var update = flag.Bool("update", false, "rewrite the files cmp compares against inside testdata/script/*.txtar (the goldens)")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"eipconform": main})
}

// TestScripts runs the end-to-end scripts in testdata/script. Each work directory starts with
// eip.yaml, a copy of the embedded contract. Run with -update to rewrite the goldens.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(env *testscript.Env) error {
			// Under -race every command would otherwise sleep a second before exiting.
			env.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
			return os.WriteFile(filepath.Join(env.WorkDir, "eip.yaml"), spec.Embedded(), 0o666)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":     cmdExits,
			"replace":   cmdReplace,
			"waitfile":  cmdWaitFile,
			"rpc":       cmdRPC,
			"http":      cmdHTTP,
			"sigterm":   cmdSigterm,
			"addrenv":   cmdAddrEnv,
			"jsonvalid": cmdJSONValid,
			"xmlvalid":  cmdXMLValid,
		},
	})
}

// cmdExits is "exits STATUS PROGRAM [ARGS...]": it runs PROGRAM like exec and fails unless
// the exit status is STATUS.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits status program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	var ee *exec.ExitError
	switch err := ts.Exec(args[1], args[2:]...); {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("%s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// cmdReplace is "replace FILE OLD NEW": it replaces the first OLD in FILE with NEW and fails if
// FILE has no OLD, so that a stale script does not silently test nothing.
func cmdReplace(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: replace file old new")
	}
	data := ts.ReadFile(args[0])
	if !strings.Contains(data, args[1]) {
		ts.Fatalf("%s does not contain %q", args[0], args[1])
	}
	data = strings.Replace(data, args[1], args[2], 1)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(data), 0o666))
}

// waitTimeout bounds how long waitfile waits (a race-enabled binary starts slowly).
const waitTimeout = 30 * time.Second

// cmdWaitFile is "waitfile FILE": it waits until FILE exists and is not empty, such as the
// address file of "eipconform serve --addr-file FILE" running in the background.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile file")
	}
	path := ts.MkAbs(args[0])
	deadline := time.Now().Add(waitTimeout)
	for {
		if info, err := os.Stat(path); err == nil && info.Size() > 0 {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s did not appear within %s", args[0], waitTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serverURL reads the address a server wrote with --addr-file.
func serverURL(ts *testscript.TestScript, addrFile string) string {
	return "http://" + strings.TrimSpace(ts.ReadFile(addrFile))
}

// cmdRPC is "rpc [-no-auth] [-key ID:SECRET] [-get] ADDRFILE ACTION [NAME=VALUE...]": it
// sends ACTION with its product's Version and the parameters to the server whose address is
// in ADDRFILE, signed with the documents' example key (or -key; -no-auth sends no signature),
// by POST (or -get), and prints the status on the first line and the body on the second.
// It fails on a non-2xx status, "! rpc" on a 2xx one.
func cmdRPC(ts *testscript.TestScript, neg bool, args []string) {
	sig := spec.Default().Signature
	c := &rpc.Client{AccessKeyID: sig.ExampleAccessKeyID, AccessKeySecret: sig.ExampleAccessKeySecret}
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-no-auth":
			c.AccessKeyID = ""
		case "-get":
			c.Method = http.MethodGet
		case "-key":
			if len(args) < 2 {
				ts.Fatalf("rpc: -key wants ID:SECRET")
			}
			var ok bool
			if c.AccessKeyID, c.AccessKeySecret, ok = strings.Cut(args[1], ":"); !ok {
				ts.Fatalf("rpc: -key %s: want ID:SECRET", args[1])
			}
			args = args[1:]
		default:
			ts.Fatalf("rpc: unknown flag %s", args[0])
		}
		args = args[1:]
	}
	if len(args) < 2 {
		ts.Fatalf("usage: rpc [-no-auth] [-key ID:SECRET] [-get] addrfile action [name=value...]")
	}
	c.Endpoint = serverURL(ts, args[0])
	p := url.Values{"Action": {args[1]}}
	if op := spec.Default().Operation(args[1]); op != nil {
		p.Set("Version", op.Version)
	}
	for _, kv := range args[2:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			ts.Fatalf("rpc: %q: want name=value", kv)
		}
		p.Set(k, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	resp, err := c.Do(ctx, p)
	ts.Check(err)
	fmt.Fprintf(ts.Stdout(), "%d\n%s\n", resp.Status, resp.Body)
	if ok := resp.Status >= 200 && resp.Status <= 299; ok == neg {
		ts.Fatalf("rpc %s: status %d, want %s", args[1], resp.Status, map[bool]string{false: "2xx", true: "not 2xx"}[neg])
	}
}

// cmdHTTP is "http METHOD ADDRFILE PATH [BODY]": a plain HTTP request (a JSON body when given)
// to the server whose address is in ADDRFILE; it prints the status on the first line and the
// body after it. It fails only if the request cannot be made.
func cmdHTTP(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 || len(args) > 4 {
		ts.Fatalf("usage: http method addrfile path [body]")
	}
	var body io.Reader
	if len(args) == 4 {
		body = strings.NewReader(args[3])
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, args[0], serverURL(ts, args[1])+args[2], body)
	ts.Check(err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	ts.Check(err)
	fmt.Fprintf(ts.Stdout(), "%d\n%s", resp.StatusCode, data)
}

// cmdAddrEnv is "addrenv NAME ADDRFILE": it sets the environment variable NAME to the URL
// of the server whose address is in ADDRFILE, for "eipconform run --endpoint $NAME".
func cmdAddrEnv(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: addrenv name addrfile")
	}
	ts.Setenv(args[0], serverURL(ts, args[1]))
}

// cmdJSONValid is "jsonvalid FILE": it fails unless FILE holds one well-formed JSON value.
func cmdJSONValid(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: jsonvalid file")
	}
	var v any
	if err := json.Unmarshal([]byte(ts.ReadFile(args[0])), &v); err != nil {
		ts.Fatalf("%s: not valid JSON: %v", args[0], err)
	}
}

// cmdXMLValid is "xmlvalid FILE": it fails unless FILE is a well-formed XML document with
// one root element.
func cmdXMLValid(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: xmlvalid file")
	}
	d := xml.NewDecoder(strings.NewReader(ts.ReadFile(args[0])))
	roots, depth := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			ts.Fatalf("%s: not well-formed XML: %v", args[0], err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(strings.TrimSpace(string(tok))) > 0 {
				ts.Fatalf("%s: text outside the root element", args[0])
			}
		}
	}
	if roots != 1 {
		ts.Fatalf("%s: %d root elements, want 1", args[0], roots)
	}
}

// cmdSigterm is "sigterm": it sends SIGTERM to every background command still running
// (testscript's kill sends only SIGINT or SIGKILL).
func cmdSigterm(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: sigterm")
	}
	cmds := ts.BackgroundCmds()
	if len(cmds) == 0 {
		ts.Fatalf("sigterm: no background command")
	}
	for _, c := range cmds {
		if err := c.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			ts.Fatalf("sigterm: %v", err)
		}
	}
}

// TestRunRecoversPanics guards the promise that no panic reaches the user.
func TestRunRecoversPanics(t *testing.T) {
	saved := commands
	t.Cleanup(func() { commands = saved })
	commands = append(slices.Clone(commands), command{name: "boom", flags: func(*flag.FlagSet) func(io.Writer) error {
		return func(io.Writer) error { panic("kaboom") }
	}})
	var stdout, stderr strings.Builder
	if got := run([]string{"boom"}, &stdout, &stderr); got != exitFail {
		t.Errorf("run(boom) = %d, want %d", got, exitFail)
	}
	if got, want := stderr.String(), "eipconform: internal error: kaboom\n"; got != want {
		t.Errorf("run(boom) stderr = %q, want %q", got, want)
	}
}

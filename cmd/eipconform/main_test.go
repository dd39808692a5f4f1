package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

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
			"exits":   cmdExits,
			"replace": cmdReplace,
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

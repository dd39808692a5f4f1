// Command eipconform checks Alibaba Cloud's RPC-style Elastic IP APIs against their contract.
//
// Usage:
//
//	eipconform <command> [flags]
//
// The commands are:
//
//	run     the main job: test an endpoint (by default the embedded emulator) against the contract
//	serve   run the reference emulator
//	spec    show the contract: operations, rules, error codes, ambiguities
//	help    show usage, or a command's flags
//
// Exit status: 0 on success, 1 when the check fails or something goes wrong, 2 for a usage
// error or an endpoint that cannot be reached.
//
// The commands run with the garbage collector's goal at tuning.GCPercent (400) unless the
// environment sets GOGC: a run allocates much and keeps little.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/eipconform/eipconform/internal/tuning"
)

func main() {
	tuning.Apply()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// command is one subcommand.
type command struct {
	name    string
	args    string // synopsis of the flags and arguments
	summary string // one line, for the list of commands
	doc     string // what "eipconform help <command>" says
	// flags declares the command's flags on fs and returns the function that runs it once
	// they are parsed.
	flags func(fs *flag.FlagSet) func(stdout io.Writer) error
}

// commands lists the subcommands in the order usage shows them.
var commands = []command{runCommand, serveCommand, specCommand}

// usageError is a mistake on the command line; run prints it with the usage and exits 2.
type usageError struct {
	cmd *command // nil for the top level
	msg string
}

// Error returns the message without the usage.
func (e *usageError) Error() string { return e.msg }

// statusError is an error that exits with its own status; run prints it without the usage.
type statusError struct {
	status int
	err    error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// run runs eipconform with args (without the program name) and returns the exit status.
// Nothing it is given makes it panic at the caller: a panic is reported as an internal error.
func run(args []string, stdout, stderr io.Writer) (status int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "eipconform: internal error: %v\n", r)
			status = exitFail
		}
	}()
	err := dispatch(args, stdout)
	var ue *usageError
	var se *statusError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &se):
		fmt.Fprintf(stderr, "eipconform: %v\n", se.err)
		return se.status
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "eipconform: %s\n\n", ue.msg)
		if ue.cmd != nil {
			commandUsage(stderr, ue.cmd)
		} else {
			usage(stderr)
		}
		return exitUsage
	default:
		fmt.Fprintf(stderr, "eipconform: %v\n", err)
		return exitFail
	}
}

// dispatch finds the subcommand, parses its flags and runs it.
func dispatch(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return &usageError{msg: "no command given"}
	}
	switch name := args[0]; name {
	case "help", "-h", "-help", "--help":
		return help(args[1:], stdout)
	default:
		cmd := lookup(name)
		if cmd == nil {
			if strings.HasPrefix(name, "-") {
				return &usageError{msg: fmt.Sprintf("flag %s before the command; flags follow the command", name)}
			}
			return &usageError{msg: fmt.Sprintf("unknown command %q", name)}
		}
		fs := newFlagSet(cmd)
		runCmd := cmd.flags(fs)
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				commandUsage(stdout, cmd)
				return nil
			}
			return &usageError{cmd: cmd, msg: cmd.name + ": " + err.Error()}
		}
		if fs.NArg() > 0 {
			return &usageError{cmd: cmd, msg: fmt.Sprintf("%s: unexpected argument %q", cmd.name, fs.Arg(0))}
		}
		err := runCmd(stdout)
		var ue *usageError
		if errors.As(err, &ue) && ue.cmd == nil {
			ue.cmd, ue.msg = cmd, cmd.name+": "+ue.msg
		}
		return err
	}
}

// help prints the usage of eipconform, or of one command.
func help(args []string, stdout io.Writer) error {
	switch len(args) {
	case 0:
		usage(stdout)
		return nil
	case 1:
		if cmd := lookup(args[0]); cmd != nil {
			commandUsage(stdout, cmd)
			return nil
		}
		return &usageError{msg: fmt.Sprintf("help: unknown command %q", args[0])}
	}
	return &usageError{msg: "help: want at most one command"}
}

func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// newFlagSet returns a silent flag set: run reports parse errors itself, with the usage.
func newFlagSet(cmd *command) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// usage writes the top-level usage: the commands and the exit statuses.
func usage(w io.Writer) {
	fmt.Fprint(w, `eipconform checks Alibaba Cloud's RPC-style Elastic IP APIs against their contract.

Usage:

	eipconform <command> [flags]

Commands:

`)
	for _, c := range commands {
		fmt.Fprintf(w, "\t%-8s%s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `	help    show this help, or "help <command>" for a command's flags

Exit status: 0 ok, 1 failure, 2 usage error or unreachable endpoint.
`)
}

// commandUsage writes a command's synopsis, what it does and its flags.
func commandUsage(w io.Writer, cmd *command) {
	fmt.Fprintf(w, "Usage: eipconform %s %s\n\n%s", cmd.name, cmd.args, cmd.doc)
	fs := newFlagSet(cmd)
	cmd.flags(fs)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}

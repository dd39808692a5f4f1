package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/eipconform/eipconform/emulator"
	"github.com/eipconform/eipconform/spec"
)

var serveCommand = command{
	name:    "serve",
	args:    "[--addr HOST:PORT] [--addr-file FILE] [--world FILE] [--state FILE] [--key ID:SECRET]... [--no-auth]",
	summary: "run the reference emulator",
	doc: `Serve runs the reference emulator: all eleven operations on one address ("/", GET or POST,
Action and Version select the operation), signature v1.0, JSON and XML, stateful. It prints
its address, the access keys it accepts and where its world came from, logs one line per
request (action, status, code, latency) and shuts down gracefully on SIGINT or SIGTERM,
saving its state when --state is given. With --state, every change is in the state file
before its answer is sent, so even a killed process loses no acknowledged change.

Faults are injected through the control channel, which no API request can reach:

	curl -X POST http://ADDR/_emulator/faults \
	  -d '{"action":"AllocateEipAddress","code":"QuotaExceeded.Eip","count":1}'
	curl http://ADDR/_emulator/faults          # list
	curl -X DELETE http://ADDR/_emulator/faults  # clear
`,
	flags: serveFlags,
}

// keyFlags collects repeated --key ID:SECRET flags. Set never fails: the flag package
// would quote the value, secret included, in its error. A malformed entry is counted and
// reported by check, without its text.
type keyFlags struct {
	keys map[string]string
	bad  []int // the 1-based positions of malformed entries
	n    int
}

func (k *keyFlags) String() string { return "" }

func (k *keyFlags) Set(v string) error {
	k.n++
	id, secret, ok := strings.Cut(v, ":")
	if !ok || id == "" || secret == "" {
		k.bad = append(k.bad, k.n)
		return nil
	}
	if k.keys == nil {
		k.keys = map[string]string{}
	}
	k.keys[id] = secret
	return nil
}

// check reports the malformed entries as a usage error that names their positions only.
func (k *keyFlags) check() error {
	if len(k.bad) == 0 {
		return nil
	}
	return &usageError{msg: fmt.Sprintf("--key number %d: want ID:SECRET, both non-empty (the value is not repeated here: it may hold a secret)", k.bad[0])}
}

func serveFlags(fs *flag.FlagSet) func(io.Writer) error {
	addr := fs.String("addr", "127.0.0.1:8080", "listen on `HOST:PORT` (port 0 picks a free one)")
	addrFile := fs.String("addr-file", "", "once listening, write the address (HOST:PORT) to `FILE`, for scripts that use port 0")
	world := fs.String("world", "", "load the world (regions, instances, ENIs, resource groups) from `FILE` (JSON)")
	state := fs.String("state", "", "keep the state in `FILE`: loaded at start, saved before answering every change")
	noAuth := fs.Bool("no-auth", false, "do not check signatures (emulator-style use)")
	keys := &keyFlags{}
	fs.Var(keys, "key", "accept the access key `ID:SECRET` (repeatable; default: the documents' example key)")
	return func(stdout io.Writer) error {
		if err := keys.check(); err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return serve(ctx, stdout, serveConfig{addr: *addr, addrFile: *addrFile, world: *world, state: *state, noAuth: *noAuth, keys: keys.keys})
	}
}

type serveConfig struct {
	addr, addrFile string
	world, state   string
	noAuth         bool
	keys           map[string]string
}

func serve(ctx context.Context, stdout io.Writer, cfg serveConfig) error {
	opts := emulator.Options{NoAuth: cfg.noAuth, StatePath: cfg.state, Log: stdout}
	origin := "the default world (emulator.DefaultWorld)"
	if cfg.world != "" {
		w, err := emulator.LoadWorld(cfg.world)
		if err != nil {
			return err
		}
		opts.World, origin = &w, "world file "+cfg.world
	}
	if cfg.state != "" {
		if _, err := os.Stat(cfg.state); err == nil {
			origin = "state file " + cfg.state + " (its saved world and EIPs)"
		}
	}
	if len(cfg.keys) > 0 {
		opts.Keys = cfg.keys
	}
	srv, err := emulator.New(opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      emulator.MaxFaultLatency + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	if cfg.addrFile != "" {
		if err := writeAddrFile(cfg.addrFile, ln.Addr().String()); err != nil {
			ln.Close()
			return err
		}
	}
	fmt.Fprintf(stdout, "eipconform serve: listening on http://%s\n", ln.Addr())
	fmt.Fprintf(stdout, "world: %s\n", origin)
	if cfg.noAuth {
		fmt.Fprintln(stdout, "authentication: off (--no-auth)")
	} else {
		sig := spec.Default().Signature
		for _, id := range srv.Keys() {
			if len(cfg.keys) == 0 && id == sig.ExampleAccessKeyID {
				fmt.Fprintf(stdout, "access key: %s, secret %s (the documents' example key)\n", id, sig.ExampleAccessKeySecret)
			} else {
				fmt.Fprintf(stdout, "access key: %s (secret as given)\n", id)
			}
		}
	}
	fmt.Fprintf(stdout, "faults: POST/GET/DELETE http://%s%sfaults\n", ln.Addr(), emulator.ControlPath)
	if cfg.state != "" {
		fmt.Fprintf(stdout, "state: %s, saved before answering every change\n", cfg.state)
	}

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
		fmt.Fprintln(stdout, "eipconform serve: shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		serr := hs.Shutdown(sctx)
		if err := srv.SaveState(); err != nil {
			return err
		}
		if cfg.state != "" {
			fmt.Fprintf(stdout, "state saved to %s\n", cfg.state)
		}
		if serr != nil {
			return fmt.Errorf("serve: shutdown: %w", serr)
		}
		return nil
	}
}

// writeAddrFile writes addr and a newline to path atomically (a temporary file renamed over
// it), so a script polling for the file never reads half an address.
func writeAddrFile(path, addr string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(addr+"\n"), 0o666); err != nil {
		return fmt.Errorf("serve: --addr-file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("serve: --addr-file: %w", err)
	}
	return nil
}

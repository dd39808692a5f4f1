package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/eipconform/eipconform/conformance"
	"github.com/eipconform/eipconform/emulator"
	"github.com/eipconform/eipconform/spec"
	"github.com/eipconform/eipconform/world"
)

// The environment variables the Alibaba Cloud SDKs and CLI read the access key from.
const (
	envAccessKeyID     = "ALIBABA_CLOUD_ACCESS_KEY_ID"
	envAccessKeySecret = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
)

var runCommand = command{
	name:    "run",
	args:    "[--endpoint URL] [--world FILE] [--seed N] [--only SEL]... [--skip SEL]... [--dry-run] [--json FILE] [--junit FILE] [flags]",
	summary: "the main job: test an endpoint (by default the embedded emulator) against the contract",
	doc: `Run tests an endpoint of the EIP APIs against the contract and reports every violation,
each with the command that reproduces it. Without --endpoint it starts the embedded
emulator and tests that: the first thing to run, and it passes.

The phases, in order:

	examples    the documents' sample requests
	boundaries  every rule's boundary and off-by-one cases, judged by the oracle
	properties  random valid and invalid requests (--cases per property), shrunk on failure
	stateful    random command sequences against a model of the EIP lifecycle
	protocol    signatures, nonces, timestamps, GET and POST, JSON and XML

Every answer is checked: status and error Code as the oracle requires (where the documents
disagree either answer passes and is counted as ambiguous; --strict also requires the
spec's code where its mapping is only inferred), no 5xx, the error body, the response
schema, the Format and a RequestId.

--only and --skip take selectors, comma-separated or repeated: OP, PHASE, CHECK,
OP/PHASE or OP/PHASE/CHECK, where a part may be *; for example
--only DescribeEipAddresses/boundaries or --skip protocol.

Safety with real endpoints: on an endpoint that is not on loopback, operations that
create or change resources are skipped unless --allow-mutations is given. --dry-run sends
nothing and lists every request the run would send. Whatever the run creates, the janitor
releases at the end, also after Ctrl-C; what it cannot release is listed as a leftover.

The access key comes from --access-key-id and --access-key-secret, else from
$` + envAccessKeyID + ` and
$` + envAccessKeySecret + `; the embedded emulator uses the
documents' example key unless the flags give one. The secret is never printed.

The report goes to stdout (with a progress line on stderr when it is a terminal); --json
and --junit also write it to files. Exit status: 0 when there is no violation, 1 when
there are violations (warnings do not count), 2 for a usage error or an endpoint that
cannot be reached.
`,
	flags: runFlags,
}

// listFlag collects comma-separated, repeatable values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// runConfig is what the flags of run say.
type runConfig struct {
	endpoint            string
	endpoints           map[string]*string // by product name
	world               string
	keyID, keySecret    string
	noAuth              bool
	opts                conformance.Options
	jsonPath, junitPath string
	quiet, verbose      bool
}

func runFlags(fs *flag.FlagSet) func(io.Writer) error {
	cfg := declareRunFlags(fs)
	return func(stdout io.Writer) error {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return runCheck(ctx, stop, stdout, os.Stderr, *cfg)
	}
}

// declareRunFlags declares run's flags on fs; the configuration is filled in as they are
// parsed.
func declareRunFlags(fs *flag.FlagSet) *runConfig {
	cfg := &runConfig{}
	fs.StringVar(&cfg.endpoint, "endpoint", "", "test the endpoint at `URL` (default: start the embedded emulator)")
	cfg.endpoints = map[string]*string{}
	for _, p := range spec.Default().Products {
		cfg.endpoints[p.Name] = fs.String("endpoint-"+strings.ToLower(p.Name), "",
			fmt.Sprintf("send %s (%s) requests to `URL` instead of --endpoint", p.Name, p.Version))
	}
	fs.StringVar(&cfg.world, "world", "", "what the account owns (regions, instances, ENIs), from the world `FILE` (JSON; default: the embedded emulator's)")
	fs.StringVar(&cfg.keyID, "access-key-id", "", "sign requests with the access key `ID` (default $"+envAccessKeyID+")")
	fs.StringVar(&cfg.keySecret, "access-key-secret", "", "the access key's `SECRET` (default $"+envAccessKeySecret+"; never printed)")
	fs.BoolVar(&cfg.noAuth, "no-auth", false, "send unsigned requests, for endpoints that do not authenticate")
	fs.Int64Var(&cfg.opts.Seed, "seed", 1, "the run's random seed `N`; the same seed sends the same cases")
	fs.IntVar(&cfg.opts.Cases, "cases", 100, "try `N` random cases per property")
	fs.Var((*listFlag)(&cfg.opts.Only), "only", "run only what the selectors `SEL` name (comma-separated, repeatable)")
	fs.Var((*listFlag)(&cfg.opts.Skip), "skip", "skip what the selectors `SEL` name (comma-separated, repeatable)")
	fs.IntVar(&cfg.opts.Workers, "workers", 4, "check `N` operations at once within a phase (1: no phase overlaps another either)")
	fs.DurationVar(&cfg.opts.Timeout, "timeout", 10*time.Second, "give up on a request after `D`")
	fs.Float64Var(&cfg.opts.RateLimit, "rate-limit", 0, "send at most `R` requests per second (0: no limit)")
	fs.BoolVar(&cfg.opts.Strict, "strict", false, "require the spec's error code also where its mapping is only inferred")
	fs.BoolVar(&cfg.opts.AllowMutations, "allow-mutations", false, "create and change resources on an endpoint that is not on loopback")
	fs.BoolVar(&cfg.opts.DryRun, "dry-run", false, "send nothing: list the requests the run would send")
	fs.StringVar(&cfg.jsonPath, "json", "", "also write the report as JSON to `FILE`")
	fs.StringVar(&cfg.junitPath, "junit", "", "also write the report as JUnit XML to `FILE`")
	fs.BoolVar(&cfg.quiet, "quiet", false, "no progress line and no report on stdout: only the exit status and the --json and --junit files")
	fs.BoolVar(&cfg.verbose, "verbose", false, "list every skipped part with its reason")
	return cfg
}

// runCheck runs the conformance check cfg describes and writes the reports. stop ends the
// signal handling once the run is over, so that a second Ctrl-C while the report is written
// ends the program.
func runCheck(ctx context.Context, stop func(), stdout, stderr io.Writer, cfg runConfig) error {
	target, notes, err := cfg.target()
	if err != nil {
		return err
	}
	if cfg.opts.Cases < 0 || cfg.opts.Workers < 0 || cfg.opts.Timeout < 0 || cfg.opts.RateLimit < 0 {
		return &usageError{msg: "--cases, --workers, --timeout and --rate-limit cannot be negative"}
	}
	for _, sel := range append(append([]string(nil), cfg.opts.Only...), cfg.opts.Skip...) {
		if err := conformance.ValidSelector(sel); err != nil {
			return &usageError{msg: strings.TrimPrefix(err.Error(), "conformance: ")}
		}
	}

	progress := newProgress(stderr, !cfg.quiet && isTerminal(stderr))
	cfg.opts.Progress = progress.update
	rep, err := conformance.Check(ctx, target, cfg.opts)
	progress.clear()
	interrupted := ctx.Err() != nil
	stop()
	if err != nil {
		if errors.Is(err, conformance.ErrUnreachable) {
			return &statusError{status: exitUsage, err: fmt.Errorf("run: %w\n(is the endpoint running and the URL right? --dry-run shows the requests without sending them)", err)}
		}
		if interrupted {
			return errors.New("run: interrupted before the run started")
		}
		return fmt.Errorf("run: %w", err)
	}
	if target.Handler != nil {
		rep.Endpoint = "the embedded emulator"
	}
	rep.Notes = append(notes, rep.Notes...)
	if interrupted {
		rep.Partial = true
		rep.Notes = append(rep.Notes, "interrupted: the phases stopped early; the janitor still cleaned up")
	}

	if !cfg.quiet {
		if err := rep.WriteText(stdout, cfg.verbose || cfg.opts.DryRun); err != nil {
			return err
		}
	}
	if cfg.jsonPath != "" {
		if err := writeReport(cfg.jsonPath, rep.WriteJSON); err != nil {
			return err
		}
	}
	if cfg.junitPath != "" {
		if err := writeReport(cfg.junitPath, rep.WriteJUnit); err != nil {
			return err
		}
	}
	n := len(rep.Errors())
	where := "the report shows how to reproduce each"
	switch {
	case cfg.quiet:
		where = "run without --quiet for the report"
	case n == 1:
		where = "the report shows how to reproduce it"
	}
	switch {
	case interrupted:
		return errors.New("run: interrupted; the report is partial")
	case n == 1:
		return fmt.Errorf("run: 1 violation; %s", where)
	case n > 1:
		return fmt.Errorf("run: %d violations; %s", n, where)
	}
	return nil
}

// target builds the target the flags name: the embedded emulator when no endpoint is given.
// The notes are for the report.
func (cfg runConfig) target() (conformance.Target, []string, error) {
	var t conformance.Target
	var notes []string
	if cfg.endpoint != "" {
		if err := checkURL(cfg.endpoint); err != nil {
			return t, nil, &usageError{msg: fmt.Sprintf("--endpoint %s: %v", redactURL(cfg.endpoint), err)}
		}
	}
	var missing []string
	for _, p := range spec.Default().Products {
		u, flagName := *cfg.endpoints[p.Name], "--endpoint-"+strings.ToLower(p.Name)
		if u == "" {
			missing = append(missing, flagName)
			continue
		}
		if err := checkURL(u); err != nil {
			return t, nil, &usageError{msg: fmt.Sprintf("%s %s: %v", flagName, redactURL(u), err)}
		}
		if t.Endpoints == nil {
			t.Endpoints = map[string]string{}
		}
		t.Endpoints[p.Name] = u
	}
	embedded := cfg.endpoint == "" && len(t.Endpoints) == 0
	if !embedded && cfg.endpoint == "" && len(missing) > 0 {
		return t, nil, &usageError{msg: fmt.Sprintf("%s not given: give --endpoint for the products without their own", strings.Join(missing, ", "))}
	}
	if cfg.noAuth && (cfg.keyID != "" || cfg.keySecret != "") {
		return t, nil, &usageError{msg: "--no-auth and --access-key-id/--access-key-secret cannot be combined"}
	}
	if (cfg.keyID == "") != (cfg.keySecret == "") {
		return t, nil, &usageError{msg: "--access-key-id and --access-key-secret go together"}
	}

	if cfg.world != "" {
		w, err := world.Load(cfg.world)
		if err != nil {
			return t, nil, err
		}
		t.World = &w
	}
	t.NoAuth = cfg.noAuth
	t.AccessKeyID, t.AccessKeySecret = cfg.keyID, cfg.keySecret
	sig := spec.Default().Signature
	if embedded {
		if !t.NoAuth && t.AccessKeyID == "" {
			t.AccessKeyID, t.AccessKeySecret = sig.ExampleAccessKeyID, sig.ExampleAccessKeySecret
		}
		opts := emulator.Options{World: t.World, NoAuth: t.NoAuth}
		if !t.NoAuth {
			opts.Keys = map[string]string{t.AccessKeyID: t.AccessKeySecret}
		}
		srv, err := emulator.New(opts)
		if err != nil {
			return t, nil, err
		}
		t.Handler = srv
		return t, notes, nil
	}

	t.URL = cfg.endpoint
	if !t.NoAuth && t.AccessKeyID == "" {
		t.AccessKeyID, t.AccessKeySecret = os.Getenv(envAccessKeyID), os.Getenv(envAccessKeySecret)
		switch {
		case t.AccessKeyID != "" && t.AccessKeySecret != "":
		case cfg.opts.DryRun:
			t.AccessKeyID, t.AccessKeySecret = sig.ExampleAccessKeyID, sig.ExampleAccessKeySecret
			notes = append(notes, fmt.Sprintf("no access key given: a run that sends needs one (--access-key-id and --access-key-secret, or $%s and $%s)", envAccessKeyID, envAccessKeySecret))
		default:
			return t, nil, &usageError{msg: fmt.Sprintf("no access key: give --access-key-id and --access-key-secret, set $%s and $%s, or --no-auth for an endpoint that does not authenticate", envAccessKeyID, envAccessKeySecret)}
		}
	}
	return t, notes, nil
}

// checkURL accepts an http or https URL with a host and no user information.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("want an http:// or https:// URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("want an http:// or https:// URL")
	case u.Host == "":
		return errors.New("no host")
	case u.User != nil:
		return errors.New("user information in the URL; the access key goes in --access-key-id and --access-key-secret")
	}
	return nil
}

// redactURL hides the password of a URL that has one, for messages.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		return u.Redacted()
	}
	return raw
}

// writeReport writes one report file with write, reporting errors with the file's name.
func writeReport(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("run: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("run: writing %s: %w", path, err)
	}
	return nil
}

// isTerminal reports whether w is a terminal (a character device); golang.org/x/term is not
// needed for that.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// progress keeps one line on a terminal up to date; it is safe for the run's workers.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	on    bool
	shown bool
	last  time.Time
}

func newProgress(w io.Writer, on bool) *progress { return &progress{w: w, on: on} }

func (p *progress) update(done int, phase string) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond {
		p.last = now
		p.shown = true
		fmt.Fprintf(p.w, "\r\x1b[Keipconform run: %s, %d requests sent", phase, done)
	}
}

func (p *progress) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}

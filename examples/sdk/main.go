// Command sdk drives a running eipconform emulator with Alibaba Cloud's Go SDK
// (github.com/aliyun/alibaba-cloud-sdk-go), signatures on: it allocates an EIP, associates it
// with an instance, describes it, unassociates it and releases it, printing each step.
//
//	go run ./cmd/eipconform serve    # in one terminal
//	go run ./examples/sdk            # in another
//
// Flags: -endpoint (default http://127.0.0.1:8080), -region (cn-hangzhou), -instance
// (i-emu-running-1), -key and -secret (testid and testsecret, the emulator's default key). An
// error ends the program with exit status 1 and the SDK's error.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
)

// config is what the flags set.
type config struct {
	endpoint string // the emulator's base URL, http://HOST:PORT
	region   string
	instance string // the ECS instance to associate the EIP with
	key      string
	secret   string
}

func main() {
	var cfg config
	flag.StringVar(&cfg.endpoint, "endpoint", "http://127.0.0.1:8080", "the emulator's `URL`")
	flag.StringVar(&cfg.region, "region", "cn-hangzhou", "the `region` to work in")
	flag.StringVar(&cfg.instance, "instance", "i-emu-running-1", "the ECS `instance` to associate the EIP with")
	flag.StringVar(&cfg.key, "key", "testid", "the AccessKeyId")
	flag.StringVar(&cfg.secret, "secret", "testsecret", "the AccessKeySecret")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "sdk: unexpected arguments %q\n", flag.Args())
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "sdk:", err)
		stop()
		os.Exit(1)
	}
}

// run connects to the emulator and walks one EIP through its life.
func run(ctx context.Context, out io.Writer, cfg config) error {
	u, err := url.Parse(cfg.endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return fmt.Errorf("-endpoint %q: want http://HOST:PORT or https://HOST:PORT", cfg.endpoint)
	}
	client, err := newClient(ctx, u, cfg.region, cfg.key, cfg.secret)
	if err != nil {
		return err
	}
	return lifecycle(client, out, cfg.instance)
}

// README:begin
// newClient returns a Vpc client that sends every request to the emulator at endpoint
// instead of the region's Alibaba Cloud endpoint, and gives up when ctx is done.
func newClient(ctx context.Context, endpoint *url.URL, region, key, secret string) (*vpc.Client, error) {
	cfg := sdk.NewConfig().WithScheme(endpoint.Scheme)
	cfg.Transport = contextTransport{ctx}
	client, err := vpc.NewClientWithOptions(region, cfg, credentials.NewAccessKeyCredential(key, secret))
	if err != nil {
		return nil, err
	}
	client.Domain = endpoint.Host // "127.0.0.1:8080"; a request's own Domain would override it
	return client, nil
}

// lifecycle allocates an EIP, associates it with instance, describes it, unassociates it and
// releases it, printing each step's result.
func lifecycle(client *vpc.Client, out io.Writer, instance string) error {
	alloc := vpc.CreateAllocateEipAddressRequest()
	alloc.Name, alloc.InternetChargeType, alloc.Bandwidth = "sdk-example", "PayByTraffic", "5"
	a, err := client.AllocateEipAddress(alloc)
	if err != nil {
		return fmt.Errorf("allocate: %w", err)
	}
	id := a.AllocationId
	fmt.Fprintf(out, "allocated    %s %s\n", id, a.EipAddress)

	assoc := vpc.CreateAssociateEipAddressRequest()
	assoc.AllocationId, assoc.InstanceId = id, instance
	if _, err := client.AssociateEipAddress(assoc); err != nil {
		return fmt.Errorf("associate %s with %s: %w", id, instance, err)
	}
	fmt.Fprintf(out, "associated   %s with %s\n", id, instance)

	desc := vpc.CreateDescribeEipAddressesRequest()
	desc.AllocationId = id
	d, err := client.DescribeEipAddresses(desc)
	if err != nil {
		return fmt.Errorf("describe %s: %w", id, err)
	}
	if len(d.EipAddresses.EipAddress) != 1 {
		return fmt.Errorf("describe %s: %d EIPs, want 1", id, len(d.EipAddresses.EipAddress))
	}
	e := d.EipAddresses.EipAddress[0]
	fmt.Fprintf(out, "described    %s %s status %s, instance %s\n", id, e.IpAddress, e.Status, e.InstanceId)

	unassoc := vpc.CreateUnassociateEipAddressRequest()
	unassoc.AllocationId, unassoc.InstanceId = id, instance
	if _, err := client.UnassociateEipAddress(unassoc); err != nil {
		return fmt.Errorf("unassociate %s from %s: %w", id, instance, err)
	}
	fmt.Fprintf(out, "unassociated %s from %s\n", id, instance)

	release := vpc.CreateReleaseEipAddressRequest()
	release.AllocationId = id
	if _, err := client.ReleaseEipAddress(release); err != nil {
		return fmt.Errorf("release %s: %w", id, err)
	}
	fmt.Fprintf(out, "released     %s\n", id)
	return nil
}

// README:end

// contextTransport sends requests with http.DefaultTransport under ctx. The SDK (v1) takes no
// context, so this is how a cancelled ctx stops a request in flight.
type contextTransport struct{ ctx context.Context }

func (t contextTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return http.DefaultTransport.RoundTrip(r.WithContext(t.ctx))
}

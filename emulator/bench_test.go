package emulator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eipconform/eipconform/emulator"
	"github.com/eipconform/eipconform/internal/loadgen"
	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/internal/tuning"
	"github.com/eipconform/eipconform/spec"
)

// The mixed workload is one EIP's life, six requests: allocate, associate, describe a page,
// describe monitor data (ten points), unassociate, release. Allocation re-allocates the EIP
// the previous cycle released (InstanceId, its AllocationId: by IpAddress the address would
// come back under a new AllocationId), so every cycle does the same work on one address and
// one AllocationId. Fresh allocations are measured on their own by
// BenchmarkHandlerAllocateRelease: once every address has been released within the
// re-allocation window, each one costs more (see there).

// mixedStep returns the parameters of step i (0 to 5) of the cycle of the EIP id,
// associated with instance; with id "", step 0 allocates a fresh EIP.
func mixedStep(i int, id, instance string) url.Values {
	switch i % 6 {
	case 0:
		p := request("AllocateEipAddress")
		if id != "" {
			p.Set("InstanceId", id)
		}
		return p
	case 1:
		return request("AssociateEipAddress", "AllocationId", id, "InstanceId", instance)
	case 2:
		return request("DescribeEipAddresses", "PageSize", "10", "PageNumber", "1")
	case 3:
		return request("DescribeEipMonitorData", "AllocationId", id, "StartTime", "2026-11-23T10:00:00Z", "EndTime", "2026-11-23T10:10:00Z", "Period", "60")
	case 4:
		return request("UnassociateEipAddress", "AllocationId", id, "InstanceId", instance)
	default:
		return request("ReleaseEipAddress", "AllocationId", id)
	}
}

// presigned serves pre-signed form bodies to a handler in-process, signing them in batches
// with the benchmark timer stopped.
type presigned struct {
	b      *testing.B
	h      http.Handler
	s      *signer
	next   func(i int) url.Values // the parameters of request i
	bodies []string
	first  int // the index of bodies[0]
	url    *url.URL
	header http.Header
}

const presignBatch = 4096

func newPresigned(b *testing.B, h http.Handler, s *signer, next func(int) url.Values) *presigned {
	return &presigned{b: b, h: h, s: s, next: next, url: &url.URL{Path: "/"}, header: http.Header{"Content-Type": {rpc.FormContentType}}}
}

// do serves request i and fails the benchmark on anything but 200.
func (p *presigned) do(i int) {
	if i-p.first >= len(p.bodies) || i < p.first {
		p.b.StopTimer()
		p.first, p.bodies = i, p.bodies[:0]
		for j := range presignBatch {
			p.bodies = append(p.bodies, p.s.sign(http.MethodPost, p.next(i+j)).Encode())
		}
		p.b.StartTimer()
	}
	body := p.bodies[i-p.first]
	r := &http.Request{Method: http.MethodPost, URL: p.url, Header: p.header, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Host: "emulator"}
	w := httptest.NewRecorder()
	p.h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		p.b.Fatalf("request %d: %d %s\nrequest: %s", i, w.Code, w.Body, rpc.Redacted(p.s.sign(http.MethodPost, p.next(i))))
	}
}

// benchServer returns an emulator with the real clock and a signer for the example key.
func benchServer(b *testing.B, opts emulator.Options) (*emulator.Server, *signer) {
	b.Helper()
	srv, err := emulator.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	sig := spec.Default().Signature
	return srv, &signer{id: sig.ExampleAccessKeyID, secret: sig.ExampleAccessKeySecret, now: time.Now}
}

// reportRate adds requests per second to the benchmark's metrics.
func reportRate(b *testing.B, requests int) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(requests)/s, "req/s")
	}
}

// firstCycle runs one cycle with a fresh allocation and returns the EIP it released, which
// every later cycle re-allocates.
func firstCycle(tb testing.TB, h http.Handler, s *signer, instance string) (id string) {
	tb.Helper()
	for i := range 6 {
		a := send(h, http.MethodPost, s.sign(http.MethodPost, mixedStep(i, id, instance)))
		if a.Status != http.StatusOK {
			tb.Fatalf("warm-up step %d: %d %s", i, a.Status, a.Body)
		}
		if i == 0 {
			var r struct{ AllocationId string }
			if err := json.Unmarshal(a.Body, &r); err != nil {
				tb.Fatal(err)
			}
			id = r.AllocationId
		}
	}
	return id
}

// BenchmarkHandlerMixed serves the mixed workload in-process (ServeHTTP and an
// httptest.ResponseRecorder), authentication on, every request pre-signed; one op is one
// request.
func BenchmarkHandlerMixed(b *testing.B) {
	srv, s := benchServer(b, emulator.Options{})
	id := firstCycle(b, srv, s, "i-emu-running-1")
	p := newPresigned(b, srv, s, func(i int) url.Values { return mixedStep(i, id, "i-emu-running-1") })
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p.do(i)
		i++
	}
	reportRate(b, i)
}

// BenchmarkHandlerDescribe serves DescribeEipAddresses (a page of 10 of 20 EIPs) in-process,
// pre-signed.
func BenchmarkHandlerDescribe(b *testing.B) {
	srv, s := benchServer(b, emulator.Options{})
	for i := range 20 {
		if a := send(srv, http.MethodPost, s.sign(http.MethodPost, request("AllocateEipAddress", "Name", fmt.Sprint("bench-", i)))); a.Status != http.StatusOK {
			b.Fatalf("allocate %d: %d %s", i, a.Status, a.Body)
		}
	}
	p := newPresigned(b, srv, s, func(int) url.Values {
		return request("DescribeEipAddresses", "PageSize", "10", "PageNumber", "1")
	})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p.do(i)
		i++
	}
	reportRate(b, i)
}

// BenchmarkHandlerAllocateRelease allocates a fresh EIP and releases it, in-process, after
// 800 such cycles have released every one of the emulator's 762 addresses within the
// seven-day re-allocation window (the state of a long-lived "eipconform serve" behind a CI
// suite). One op is the pair of requests.
func BenchmarkHandlerAllocateRelease(b *testing.B) {
	srv, s := benchServer(b, emulator.Options{})
	cycle := func() {
		a := send(srv, http.MethodPost, s.sign(http.MethodPost, request("AllocateEipAddress")))
		if a.Status != http.StatusOK {
			b.Fatalf("AllocateEipAddress: %d %s", a.Status, a.Body)
		}
		var r struct{ AllocationId string }
		if err := json.Unmarshal(a.Body, &r); err != nil {
			b.Fatal(err)
		}
		if a := send(srv, http.MethodPost, s.sign(http.MethodPost, request("ReleaseEipAddress", "AllocationId", r.AllocationId))); a.Status != http.StatusOK {
			b.Fatalf("ReleaseEipAddress %s: %d %s", r.AllocationId, a.Status, a.Body)
		}
	}
	for range 800 {
		cycle()
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		cycle()
		n++
	}
	reportRate(b, 2*n)
}

// BenchmarkLoopbackMixed serves the mixed workload over loopback: a real http.Server on
// 127.0.0.1, keep-alive clients (rpc.Client, signing every request) in parallel, each cycling
// its own EIP on its own instance. Client and server share the machine's cores.
func BenchmarkLoopbackMixed(b *testing.B) {
	defer tuning.Apply()() // as eipconform serve runs
	const maxClients = 256
	addr := loopbackEmulator(b, maxClients)
	tr := &http.Transport{MaxIdleConns: maxClients, MaxIdleConnsPerHost: maxClients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	sig := spec.Default().Signature
	client := &rpc.Client{Endpoint: "http://" + addr, AccessKeyID: sig.ExampleAccessKeyID, AccessKeySecret: sig.ExampleAccessKeySecret,
		HTTP: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	var clients, requests atomic.Int64
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		n := clients.Add(1) - 1
		if n >= maxClients {
			b.Errorf("more than %d parallel clients", maxClients)
			return
		}
		instance := benchInstance(n)
		var id string
		ctx := context.Background()
		for i := 0; pb.Next(); i++ {
			resp, err := client.Do(ctx, mixedStep(i, id, instance))
			if err != nil {
				b.Errorf("step %d: %v", i%6, err)
				return
			}
			if resp.Status != http.StatusOK {
				b.Errorf("client %d step %d: %d %s", n, i%6, resp.Status, resp.Body)
				return
			}
			if i%6 == 0 {
				var r struct{ AllocationId string }
				if err := json.Unmarshal(resp.Body, &r); err != nil {
					b.Errorf("allocate: %v", err)
					return
				}
				id = r.AllocationId
			}
			requests.Add(1)
		}
	})
	b.StopTimer()
	reportRate(b, int(requests.Load()))
}

// BenchmarkLoopbackMixedRaw is BenchmarkLoopbackMixed with a wrk-like load generator: every
// client goroutine keeps one HTTP/1.1 connection to a real http.Server on 127.0.0.1, writes
// each request by hand and reads the answer with http.ReadResponse, so the generator costs
// little of the two cores and the figure is the emulator's (net/http server included).
// Every request is still signed with a fresh nonce and a current timestamp.
func BenchmarkLoopbackMixedRaw(b *testing.B) {
	defer tuning.Apply()() // as eipconform serve runs
	const maxClients = 256
	addr := loopbackEmulator(b, maxClients)
	sig := spec.Default().Signature
	s := &signer{id: sig.ExampleAccessKeyID, secret: sig.ExampleAccessKeySecret, now: time.Now}
	var requests atomic.Int64
	loadgen.Parallel(b, addr, maxClients, func(n int64, conn *loadgen.Conn, pb *testing.PB) {
		instance := benchInstance(n)
		var id string
		for i := 0; pb.Next(); i++ {
			status, data, err := conn.PostForm(rpc.EncodeForm(s.sign(http.MethodPost, mixedStep(i, id, instance))))
			if err != nil || status != http.StatusOK {
				b.Errorf("client %d step %d: %d %s (%v)", n, i%6, status, data, err)
				return
			}
			if i%6 == 0 {
				var r struct{ AllocationId string }
				if err := json.Unmarshal(data, &r); err != nil {
					b.Errorf("allocate: %v", err)
					return
				}
				id = r.AllocationId
			}
			requests.Add(1)
		}
	})
	b.StopTimer()
	reportRate(b, int(requests.Load()))
}

// benchInstance names the instance load client n cycles its EIP on.
func benchInstance(n int64) string { return fmt.Sprintf("i-bench-%d", n) }

// loopbackEmulator serves, on a real http.Server on 127.0.0.1, an emulator whose world has
// one Running instance per load client and a quota for one EIP each; it returns host:port.
func loopbackEmulator(b *testing.B, clients int) string {
	b.Helper()
	w := emulator.DefaultWorld()
	w.Regions[0].EipQuota = clients
	for i := range clients {
		w.Instances = append(w.Instances, emulator.Instance{ID: benchInstance(int64(i)), RegionID: w.Regions[0].ID,
			Status: emulator.StatusRunning, VPC: true, InternetMaxBandwidthOut: 5})
	}
	srv, _ := benchServer(b, emulator.Options{World: &w})
	addr, stop, err := loadgen.Serve(srv)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(stop)
	return addr
}

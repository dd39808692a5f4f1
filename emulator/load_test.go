package emulator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eipconform/eipconform/emulator"
	"github.com/eipconform/eipconform/internal/rpc"
	"github.com/eipconform/eipconform/internal/tuning"
	"github.com/eipconform/eipconform/world"
)

// Sizes of the load test: loadClients clients send loadRequests() requests in all.
const (
	loadClients = 64
	loadMaxLive = 4 // live EIPs per client at most
)

// loadRequests is how many requests TestLoad sends: $EIPCONFORM_LOAD_REQUESTS if set, else
// 20,000 under CI (CI=true: the variant sized for the 2-core CI machine, under -race about
// 12 s), 10,000 with -short, and 100,000 otherwise (about 60 s under -race, 10 s without).
func loadRequests(t *testing.T) int {
	if v := os.Getenv("EIPCONFORM_LOAD_REQUESTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < loadClients {
			t.Fatalf("EIPCONFORM_LOAD_REQUESTS=%q: want a number of at least %d", v, loadClients)
		}
		return n
	}
	switch {
	case testing.Short():
		return 10_000
	case os.Getenv("CI") == "true":
		return 20_000
	}
	return 100_000
}

// loadEIP is what a client's bookkeeping says of one of its EIPs.
type loadEIP struct {
	ID, Status, InstanceID, Name, Bandwidth string
}

// loadRun is the mixed load of TestLoad and BenchmarkLoad: an emulator (authentication
// off) whose world has an instance for each of loadClients clients, served over loopback,
// a keep-alive rpc.Client shared by the clients, and what they saw: every client's
// bookkeeping, the requests sent, the 5xx answers and the first failures.
type loadRun struct {
	client       *rpc.Client
	sent, fiveXX atomic.Int64
	books        []map[string]*loadEIP

	mu       sync.Mutex
	failures []string
}

// newLoadRun starts the emulator for a load run on an httptest server on 127.0.0.1, which
// the test's cleanup stops.
func newLoadRun(tb testing.TB) *loadRun {
	tb.Helper()
	w := world.World{
		Regions:        []world.Region{{ID: "cn-hangzhou", EipQuota: loadClients*loadMaxLive + 10}},
		ResourceGroups: []string{"rg-load"},
	}
	for i := range loadClients {
		w.Instances = append(w.Instances, world.Instance{ID: fmt.Sprintf("i-load-%02d", i), RegionID: "cn-hangzhou", Status: world.StatusRunning, VPC: true, InternetMaxBandwidthOut: 5})
	}
	srv, err := emulator.New(emulator.Options{World: &w, NoAuth: true})
	if err != nil {
		tb.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	tb.Cleanup(ts.Close)
	tr := &http.Transport{MaxIdleConnsPerHost: loadClients}
	tb.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Timeout: 30 * time.Second, Transport: tr}
	return &loadRun{client: &rpc.Client{Endpoint: ts.URL, HTTP: hc}}
}

// fail records a failure; the first 20 are kept.
func (l *loadRun) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) < 20 {
		l.failures = append(l.failures, fmt.Sprintf(format, args...))
	}
}

// call sends action in cn-hangzhou with "k", "v" pairs and returns the decoded success body;
// anything but a 200 with a JSON body is recorded as a failure.
func (l *loadRun) call(action string, kv ...string) (map[string]any, bool) {
	p := url.Values{"Action": {action}, "Version": {versionOf(action)}, "RegionId": {"cn-hangzhou"}}
	for i := 0; i+1 < len(kv); i += 2 {
		p.Set(kv[i], kv[i+1])
	}
	resp, err := l.client.Do(context.Background(), p)
	l.sent.Add(1)
	if err != nil {
		l.fail("%s %v: %v", action, kv, err)
		return nil, false
	}
	if resp.Status >= 500 {
		l.fiveXX.Add(1)
	}
	if resp.Status != http.StatusOK {
		l.fail("%s %v: got %d %s, want success", action, kv, resp.Status, resp.Body)
		return nil, false
	}
	var v map[string]any
	if err := json.Unmarshal(resp.Body, &v); err != nil {
		l.fail("%s %v: body %s: %v", action, kv, resp.Body, err)
		return nil, false
	}
	return v, true
}

// loadItems returns the EIPs of a DescribeEipAddresses answer as the bookkeeping writes them.
func loadItems(v map[string]any) []loadEIP {
	var out []loadEIP
	list, _ := v["EipAddresses"].(map[string]any)["EipAddress"].([]any)
	for _, it := range list {
		m, _ := it.(map[string]any)
		e := loadEIP{ID: str(m, "AllocationId"), Status: str(m, "Status"), InstanceID: str(m, "InstanceId"), Name: str(m, "Name")}
		e.Bandwidth = fmt.Sprint(m["Bandwidth"])
		out = append(out, e)
	}
	return out
}

// run sends total requests from loadClients clients at once, each with its own instance and
// seeded random choices, keeping each client's bookkeeping in l.books; it returns when
// every client is done.
func (l *loadRun) run(total int) {
	l.books = make([]map[string]*loadEIP, loadClients)
	var wg sync.WaitGroup
	for c := range loadClients {
		l.books[c] = map[string]*loadEIP{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			share := total / loadClients
			if c < total%loadClients {
				share++
			}
			l.runClient(c, share)
		}()
	}
	wg.Wait()
}

// runClient is client c of a load run: it sends share requests of the mixed workload.
func (l *loadRun) runClient(c, share int) {
	r := rand.New(rand.NewSource(int64(c) + 1))
	mine, instance := l.books[c], fmt.Sprintf("i-load-%02d", c)
	pick := func(status string) *loadEIP {
		var ids []string
		for id, e := range mine {
			if status == "" || e.Status == status {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		slices.Sort(ids)
		return mine[ids[r.Intn(len(ids))]]
	}
	holder := func() *loadEIP {
		for _, e := range mine {
			if e.InstanceID != "" {
				return e
			}
		}
		return nil
	}
	// Every round sends exactly one request: the action drawn if the bookkeeping allows
	// it, else a page of the region.
	for n := range share {
		sentOne := false
		switch k := r.Intn(10); {
		case k < 2:
			if len(mine) < loadMaxLive {
				sentOne = true
				name := fmt.Sprintf("load-%d-%d", c, n)
				if v, ok := l.call("AllocateEipAddress", "Name", name, "Bandwidth", "5"); ok {
					id := str(v, "AllocationId")
					mine[id] = &loadEIP{ID: id, Status: "Available", Name: name, Bandwidth: "5"}
				}
			}
		case k < 3:
			if e := pick("Available"); e != nil && holder() == nil {
				sentOne = true
				if _, ok := l.call("AssociateEipAddress", "AllocationId", e.ID, "InstanceId", instance); ok {
					e.Status, e.InstanceID = "InUse", instance
				}
			}
		case k < 4:
			if e := pick("InUse"); e != nil {
				sentOne = true
				if _, ok := l.call("UnassociateEipAddress", "AllocationId", e.ID, "InstanceId", e.InstanceID); ok {
					e.Status, e.InstanceID = "Available", ""
				}
			}
		case k < 5:
			if e := pick(""); e != nil {
				sentOne = true
				name, bw := fmt.Sprintf("mod-%d-%d", c, n), strconv.Itoa(1+r.Intn(200))
				if _, ok := l.call("ModifyEipAddressAttribute", "AllocationId", e.ID, "Name", name, "Bandwidth", bw); ok {
					e.Name, e.Bandwidth = name, bw
				}
			}
		case k < 6:
			if e := pick("Available"); e != nil && len(mine) > 1 {
				sentOne = true
				if _, ok := l.call("ReleaseEipAddress", "AllocationId", e.ID); ok {
					delete(mine, e.ID)
				}
			}
		case k < 8:
			if e := pick(""); e != nil {
				sentOne = true
				if v, ok := l.call("DescribeEipAddresses", "AllocationId", e.ID); ok {
					if diff := cmp.Diff([]loadEIP{*e}, loadItems(v)); diff != "" {
						l.fail("client %d: DescribeEipAddresses by %s disagrees with the bookkeeping (-want +got):\n%s", c, e.ID, diff)
					}
				}
			}
		}
		if !sentOne {
			// A page of the region: other clients change it meanwhile, so only its shape
			// is checked here; the whole listing is checked at the end.
			if v, ok := l.call("DescribeEipAddresses", "PageSize", "10", "PageNumber", strconv.Itoa(1+r.Intn(5))); ok {
				if got := len(loadItems(v)); got > 10 {
					l.fail("client %d: a page of %d items, want at most 10", c, got)
				}
			}
		}
	}
}

// check fails tb on any 5xx answer or recorded failure, then, with nothing in flight,
// requires the region's whole listing (every page) to be exactly the union of the clients'
// bookkeeping, EIP by EIP and field by field, with a consistent TotalCount.
func (l *loadRun) check(tb testing.TB) {
	tb.Helper()
	if n := l.fiveXX.Load(); n > 0 {
		tb.Errorf("%d answers were 5xx; want none", n)
	}
	for _, f := range l.failures {
		tb.Error(f)
	}

	var want, got []loadEIP
	for _, b := range l.books {
		for _, e := range b {
			want = append(want, *e)
		}
	}
	totals := map[float64]bool{}
	for page := 1; page <= len(want)/50+2; page++ {
		v, ok := l.call("DescribeEipAddresses", "PageSize", "50", "PageNumber", strconv.Itoa(page))
		if !ok {
			break
		}
		n, _ := v["TotalCount"].(float64)
		totals[n] = true
		got = append(got, loadItems(v)...)
	}
	byID := func(a, b loadEIP) int { return strings.Compare(a.ID, b.ID) }
	slices.SortFunc(want, byID)
	slices.SortFunc(got, byID)
	if diff := cmp.Diff(want, got); diff != "" {
		tb.Errorf("the region's EIPs after the load disagree with the clients' bookkeeping (-want +got):\n%s", diff)
	}
	if len(totals) != 1 || !totals[float64(len(want))] {
		tb.Errorf("TotalCount over the final listing's pages: %v; want %d on every page", totals, len(want))
	}
}

// TestLoad: 64 clients, each with an instance of its own, send a mixed workload (allocate,
// associate, describe by id, describe page by page, modify, unassociate, release) at once.
// Every request of a client's own bookkeeping must succeed and no answer may be a 5xx; at the
// end, with nothing in flight, the region's listing (every page) must be exactly the union of
// the clients' bookkeeping, EIP by EIP and field by field, with a consistent TotalCount.
func TestLoad(t *testing.T) {
	total := loadRequests(t)
	l := newLoadRun(t)
	start := time.Now()
	l.run(total)
	took := time.Since(start)
	t.Logf("%d clients sent %d requests in %v (%.0f req/s)", loadClients, l.sent.Load(), took.Round(time.Millisecond), float64(l.sent.Load())/took.Seconds())
	l.check(t)
	if t.Failed() {
		t.Logf("reproduce: EIPCONFORM_LOAD_REQUESTS=%d go test ./emulator -run '^TestLoad$' -race", total)
	}
}

// BenchmarkLoad is TestLoad's mixed load as a benchmark: 64 clients at once, each with an
// instance of its own, over loopback (an httptest server, one net/http client), b.N requests
// in all. One op is one request; req/s is requests per second over all clients. A 5xx
// answer, a failed request of a client's bookkeeping or a final listing that disagrees with
// the bookkeeping (checked with the timer stopped) fails the benchmark.
func BenchmarkLoad(b *testing.B) {
	defer tuning.Apply()() // as eipconform serve runs
	l := newLoadRun(b)
	b.ReportAllocs()
	b.ResetTimer()
	l.run(b.N)
	b.StopTimer()
	reportRate(b, int(l.sent.Load()))
	l.check(b)
}

package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// hostileTimeout is the per-request timeout the hostile-endpoint runs use.
const hostileTimeout = "1s"

// hostile is a loopback endpoint that misbehaves in one way.
type hostile struct {
	name    string
	handler func(written *atomic.Int64, elsewhere string) http.Handler
	// want is the exit status; stdout (status 1) or stderr (status 2) must contain every
	// string of mention.
	want    int
	mention []string
}

// hostileEndpoints: each misbehaves in one way the harness must survive: finish, report what
// is wrong (or that the endpoint cannot be reached), and not panic.
func hostileEndpoints() []hostile {
	jsonBody := func(status int, body string) func(*atomic.Int64, string) http.Handler {
		return func(*atomic.Int64, string) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				io.WriteString(w, body)
			})
		}
	}
	return []hostile{
		{
			name: "never answers",
			handler: func(*atomic.Int64, string) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body) // then the server notices when the client goes
					<-r.Context().Done()
				})
			},
			want: exitUsage, mention: []string{"unreachable"},
		},
		{
			name: "answers one byte at a time",
			handler: func(written *atomic.Int64, _ string) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
					w.Header().Set("Content-Type", "application/json")
					for _, b := range []byte(`{"RequestId":"slow","TotalCount":0}`) {
						if _, err := w.Write([]byte{b}); err != nil {
							return
						}
						w.(http.Flusher).Flush()
						written.Add(1)
						select {
						case <-r.Context().Done():
							return
						case <-time.After(100 * time.Millisecond):
						}
					}
				})
			},
			want: exitUsage, mention: []string{"unreachable"},
		},
		{
			name: "resets connections",
			handler: func(*atomic.Int64, string) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					conn, _, err := w.(http.Hijacker).Hijack()
					if err != nil {
						return
					}
					if tc, ok := conn.(*net.TCPConn); ok {
						tc.SetLinger(0) // close with a RST
					}
					conn.Close()
				})
			},
			want: exitUsage, mention: []string{"unreachable"},
		},
		{
			name: "sends a 100 MB body",
			handler: func(written *atomic.Int64, _ string) http.Handler {
				chunk := []byte(strings.Repeat(" ", 64<<10))
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					w.Header().Set("Content-Length", "104857600")
					for sent := 0; sent < 100<<20; sent += len(chunk) {
						n, err := w.Write(chunk)
						written.Add(int64(n))
						if err != nil {
							return
						}
					}
				})
			},
			want: exitFail, mention: []string{"transport", "response body more than", "stopped answering"},
		},
		{
			name: "truncated JSON", handler: jsonBody(http.StatusOK, `{"RequestId":"t","TotalCount":1,"EipAddr`),
			want: exitFail, mention: []string{"the success body does not decode", "truncated"},
		},
		{
			name: "invalid XML",
			handler: func(*atomic.Int64, string) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/xml")
					io.WriteString(w, `<?xml version="1.0"?><Response><RequestId>x</Req`)
				})
			},
			want: exitFail, mention: []string{"the success body does not decode", "XML"},
		},
		{
			name: "wrong content type",
			handler: func(*atomic.Int64, string) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/plain")
					io.WriteString(w, `{"RequestId":"ct"}`)
				})
			},
			want: exitFail, mention: []string{"Content-Type names no format"},
		},
		{
			name: "numeric Code", handler: jsonBody(http.StatusBadRequest, `{"RequestId":"n","Code":400,"Message":"bad"}`),
			want: exitFail, mention: []string{"error-body", "Code"},
		},
		{
			name: "redirects",
			handler: func(_ *atomic.Int64, elsewhere string) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, elsewhere, http.StatusTemporaryRedirect)
				})
			},
			want: exitFail, mention: []string{"got 307"},
		},
		{
			name: "answers 200 to everything", handler: jsonBody(http.StatusOK, `{"RequestId":"ok"}`),
			want: exitFail, mention: []string{"the answer is not what the contract requires", "does not match the response schema"},
		},
	}
}

// TestHostileEndpoints runs eipconform run against each hostile endpoint: the run ends, within
// a budget far below what the cases' timeouts would add up to, with exit status 1 and the
// violations named (or 2 and the endpoint named, where no request ever gets an answer); the
// body cap holds; nothing panics (run recovers panics into exit status 1 with "internal
// error", which the mentions would not match); a redirect's target never sees a request.
func TestHostileEndpoints(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole conformance run against ten endpoints")
	}
	for _, h := range hostileEndpoints() {
		t.Run(h.name, func(t *testing.T) {
			var written, elsewhereHits atomic.Int64
			elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhereHits.Add(1) }))
			defer elsewhere.Close()
			srv := httptest.NewServer(h.handler(&written, elsewhere.URL+"/"))
			defer srv.Close()

			start := time.Now()
			peak := watchHeap()
			stdout, stderr, status := runArgs("--endpoint", srv.URL, "--timeout", hostileTimeout, "--no-auth", "--quiet=false")
			grew := peak()
			took := time.Since(start)
			out := stdout
			if status == exitUsage {
				out = stderr
			}
			if status != h.want {
				t.Fatalf("run against an endpoint that %s = exit %d, want %d\nstdout (start):\n%s\nstderr:\n%s", h.name, status, h.want, head(stdout, 3000), stderr)
			}
			for _, m := range h.mention {
				if !strings.Contains(out, m) {
					t.Errorf("run against an endpoint that %s: the output does not mention %q\n%s", h.name, m, head(out, 3000))
				}
			}
			if strings.Contains(stdout+stderr, "internal error") || strings.Contains(stdout+stderr, "panic") {
				t.Errorf("run against an endpoint that %s panicked:\n%s", h.name, stdout+stderr)
			}
			// Ten transport failures in a row stop the run; without that, thousands of cases
			// at 300 ms each would take many minutes.
			if limit := 2 * time.Minute; took > limit {
				t.Errorf("run against an endpoint that %s took %v; want well under %v", h.name, took, limit)
			}
			if n := written.Load(); n > 200<<20 {
				t.Errorf("the endpoint wrote %d MB before the run gave up; the body cap should stop each read at 4 MB", n>>20)
			}
			// Reading one 100 MB body whole would take more than this; the cap keeps each
			// read under 4 MiB per worker.
			if limit := uint64(96 << 20); grew > limit {
				t.Errorf("run against an endpoint that %s: the heap grew by %d MiB at its peak, want under %d MiB (is the body cap read?)", h.name, grew>>20, limit>>20)
			}
			if n := elsewhereHits.Load(); n > 0 {
				t.Errorf("a redirect's target got %d requests; redirects must not be followed", n)
			}
		})
	}
}

func head(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// watchHeap samples the live heap every millisecond until the returned function is called,
// which returns how far the heap grew above its size at the start (runtime/metrics: no
// stop-the-world per sample).
func watchHeap() (peak func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	base := read()
	var top atomic.Uint64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if v := read(); v > top.Load() {
				top.Store(v)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(stop)
		<-done
		if v := top.Load(); v > base {
			return v - base
		}
		return 0
	}
}

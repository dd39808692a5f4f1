package loadgen_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/eipconform/eipconform/internal/loadgen"
)

func TestPostFormAndSendKeepOneConnection(t *testing.T) {
	conns := map[string]bool{}
	addr, stop, err := loadgen.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conns[r.RemoteAddr] = true
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusTeapot)
		w.Write(append([]byte(r.Method+" "), b...))
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	c, err := loadgen.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 3 {
		status, body, err := c.PostForm("a=1")
		if err != nil || status != http.StatusTeapot || string(body) != "POST a=1" {
			t.Fatalf("PostForm = %d %q %v, want 418 %q", status, body, err, "POST a=1")
		}
	}
	status, body, err := c.Send(http.MethodGet, []byte("GET /?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"))
	if err != nil || status != http.StatusTeapot || string(body) != "GET " {
		t.Fatalf("Send(GET) = %d %q %v, want 418 %q", status, body, err, "GET ")
	}
	if len(conns) != 1 {
		t.Errorf("requests came over %d connections, want 1 (keep-alive)", len(conns))
	}
}

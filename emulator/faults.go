package emulator

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/eipconform/eipconform/spec"
)

// ControlPath is where the fault-injection control channel lives. RPC requests are served on
// "/" only, so no API request can reach it.
//
//	POST   /_emulator/faults   {"action":"AllocateEipAddress","code":"QuotaExceeded.Eip","count":1}
//	GET    /_emulator/faults   the active faults
//	DELETE /_emulator/faults   remove them all
const ControlPath = "/_emulator/"

// faultsPath is the control channel's only resource.
const faultsPath = ControlPath + "faults"

// Fault makes chosen calls fail with an error the spec lists for the operation (or a protocol
// error such as Throttling), or adds latency, or both.
type Fault struct {
	// Action is the operation to affect; "*" affects every operation.
	Action string `json:"action"`
	// Code is the error to return; it must be in the operation's error table or the protocol
	// errors. Empty: latency only.
	Code string `json:"code,omitempty"`
	// Status is the HTTP status; 0 takes the spec's status for Code. When given it must be
	// one the spec lists with Code.
	Status int `json:"status,omitempty"`
	// Count, when positive, affects the next Count matching calls, then the fault is gone.
	Count int `json:"count,omitempty"`
	// Probability, when positive, affects each matching call with this probability, drawn
	// from a generator seeded with Seed (deterministic for a given call sequence).
	Probability float64 `json:"probability,omitempty"`
	Seed        uint64  `json:"seed,omitempty"`
	// Latency is added before answering, e.g. "250ms"; at most MaxFaultLatency.
	Latency Duration `json:"latency,omitzero"`

	rng *rand.Rand
}

// MaxFaultLatency bounds an injected latency.
const MaxFaultLatency = time.Minute

// Duration is a time.Duration written as a string such as "250ms" in JSON.
type Duration struct{ time.Duration }

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a string such as "250ms".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("latency: want a duration string such as \"250ms\": %v", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("latency: %v", err)
	}
	d.Duration = v
	return nil
}

type faultTable struct {
	mu     sync.Mutex
	faults []*Fault
}

// InjectFault validates f against the spec and adds it. Typical usage from a test:
//
//	srv.InjectFault(emulator.Fault{Action: "AllocateEipAddress", Code: "QuotaExceeded.Eip", Count: 1})
func (s *Server) InjectFault(f Fault) error {
	if err := s.validateFault(&f); err != nil {
		return err
	}
	f.rng = rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15))
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.faults = append(s.faults.faults, &f)
	return nil
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.faults = nil
}

func (s *Server) validateFault(f *Fault) error {
	var ops []*spec.Operation
	if f.Action == "*" {
		ops = s.spec.Operations
	} else if op := s.spec.Operation(f.Action); op != nil {
		ops = []*spec.Operation{op}
	} else {
		return fmt.Errorf("fault: action %q is not an operation of the spec (or \"*\")", f.Action)
	}
	if f.Count < 0 || f.Probability < 0 || f.Probability > 1 {
		return fmt.Errorf("fault: count %d, probability %g; want count >= 0 and probability in [0, 1]", f.Count, f.Probability)
	}
	if f.Count == 0 && f.Probability == 0 {
		return fmt.Errorf("fault: want count > 0 (the next N calls) or probability in (0, 1]")
	}
	if f.Latency.Duration < 0 || f.Latency.Duration > MaxFaultLatency {
		return fmt.Errorf("fault: latency %s; want 0 to %s", f.Latency, MaxFaultLatency)
	}
	if f.Code == "" {
		if f.Latency.Duration == 0 {
			return fmt.Errorf("fault: want a code, a latency or both")
		}
		return nil
	}
	for _, op := range ops {
		status, ok := s.faultStatus(op, f.Code, f.Status)
		if !ok {
			return fmt.Errorf("fault: %s does not list error %s%s; want one of its x-errors or a protocol error",
				op.Action, statusPrefix(f.Status), f.Code)
		}
		f.Status = status
	}
	return nil
}

func statusPrefix(status int) string {
	if status == 0 {
		return ""
	}
	return fmt.Sprintf("%d ", status)
}

// faultStatus finds the status the spec gives code for op, checking a requested one.
func (s *Server) faultStatus(op *spec.Operation, code string, want int) (int, bool) {
	var refs []spec.ErrorRef
	for _, e := range op.Errors {
		refs = append(refs, e.Ref())
	}
	for _, e := range s.spec.ProtocolErrors {
		refs = append(refs, e.Ref())
	}
	for _, r := range refs {
		if r.Code == code && (want == 0 || want == r.Status) {
			return r.Status, true
		}
	}
	return 0, false
}

// take returns the fault that fires for this call of action, if any.
func (t *faultTable) take(action string) *Fault {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, f := range t.faults {
		if f.Action != action && f.Action != "*" {
			continue
		}
		switch {
		case f.Count > 0:
			f.Count--
			if f.Count == 0 && f.Probability == 0 {
				t.faults = append(t.faults[:i], t.faults[i+1:]...)
			}
			c := *f
			return &c
		case f.Probability > 0 && f.rng.Float64() < f.Probability:
			c := *f
			return &c
		}
	}
	return nil
}

// maxControlBody caps a control request body.
const maxControlBody = 64 << 10

// control serves the fault-injection channel.
func (s *Server) control(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != faultsPath {
		http.Error(w, "unknown control resource; the only one is "+faultsPath, http.StatusNotFound)
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.faults.mu.Lock()
		list := make([]Fault, 0, len(s.faults.faults))
		for _, f := range s.faults.faults {
			list = append(list, *f)
		}
		s.faults.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(list)
	case http.MethodPost:
		var f Fault
		dec := json.NewDecoder(io.LimitReader(r.Body, maxControlBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			http.Error(w, "fault: not a fault document: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := s.InjectFault(f); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.logf("control: injected fault %s %s count=%d probability=%g latency=%s", f.Action, orDash(f.Code), f.Count, f.Probability, f.Latency)
		w.WriteHeader(http.StatusCreated)
	case http.MethodDelete:
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

package spec

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
)

// Spec is the loaded contract: the OpenAPI document and the typed model read from it.
// Everything is sorted: operations by action, parameters by name, rules by ID, errors by
// status, code and message.
//
//	s := spec.Default()
//	op := s.Operation("AllocateEipAddress")
//	v := s.Evaluate(params, spec.Options{})
type Spec struct {
	Products      []Product
	Operations    []*Operation
	Signature     Signature
	Formats       []string
	DefaultFormat string
	// CommonParameters names the parameters every operation carries (Action, Version, the
	// signature parameters); they are listed in each operation's Parameters too.
	CommonParameters []string
	// ProtocolErrors are the errors of the RPC protocol itself (x-rpc.errors).
	ProtocolErrors []ProtocolError
	// Ambiguities are every place the documents disagree or are silent, across the spec.
	Ambiguities []Ambiguity

	doc      *openapi3.T
	raw      []byte
	byAction map[string]*Operation
}

// Product is one RPC product: its name, API version and public endpoint.
type Product struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Endpoint string `json:"endpoint"`
	Source   string `json:"source"`
}

// Signature describes signature version 1.0 as the spec requires it.
type Signature struct {
	Method                 string `json:"method"`
	Version                string `json:"version"`
	KeySuffix              string `json:"keySuffix"`
	PercentEncoding        string `json:"percentEncoding"`
	TimestampLayout        string `json:"timestampLayout"`
	TimestampWindowSeconds int    `json:"timestampWindowSeconds"`
	NonceWindowSeconds     int    `json:"nonceWindowSeconds"`
	ExampleAccessKeyID     string `json:"exampleAccessKeyId"`
	ExampleAccessKeySecret string `json:"exampleAccessKeySecret"`
	Source                 string `json:"source"`
	Quote                  string `json:"quote"`
	WindowSource           string `json:"windowSource"`
	WindowNote             string `json:"windowNote"`
}

// ProtocolError is an error of the RPC protocol (missing parameter, bad signature, ...).
type ProtocolError struct {
	ID      string  `json:"id"`
	Status  int     `json:"status"`
	Code    string  `json:"code"`
	Message string  `json:"message"`
	Mapping Mapping `json:"mapping"`
	Source  string  `json:"source"`
	Quote   string  `json:"quote"`
}

// Ref returns the error's (status, code) pair.
func (e ProtocolError) Ref() ErrorRef { return ErrorRef{Status: e.Status, Code: e.Code} }

// Resource kinds, as operations list them in x-changes.
const (
	ResourceEIP      = "eip"      // an elastic IP address
	ResourceInstance = "instance" // an ECS instance (its public IP, its associated EIP)
	ResourceENI      = "eni"      // an elastic network interface
	ResourceAccount  = "account"  // an account-wide feature or service switch
)

// Resources lists every resource kind the spec knows.
var Resources = []string{ResourceEIP, ResourceInstance, ResourceENI, ResourceAccount}

// ChangesAny reports whether an accepted request of op creates or changes a resource of any
// of the given kinds (each one of Resources).
//
//	if op.ChangesAny(spec.ResourceEIP, spec.ResourceInstance) { ... }
func (op *Operation) ChangesAny(kinds ...string) bool {
	for _, k := range kinds {
		if slices.Contains(op.Changes, k) {
			return true
		}
	}
	return false
}

// Protocol error IDs, as listed in x-rpc.errors.
const (
	ErrMissingParameter  = "missing-parameter"
	ErrUnknownAction     = "unknown-action"
	ErrBadVersion        = "bad-version"
	ErrSignatureMismatch = "signature-mismatch"
	ErrUnknownAccessKey  = "unknown-access-key"
	ErrNonceReused       = "nonce-reused"
	ErrTimestampFormat   = "timestamp-malformed"
	ErrTimestampExpired  = "timestamp-expired"
	ErrSignatureMethod   = "signature-method"
	ErrSignatureVersion  = "signature-version"
	ErrInvalidParameter  = "invalid-parameter"
	ErrThrottling        = "throttling"
	ErrUnavailable       = "service-unavailable"
)

// ProtocolError returns the protocol error with the given ID (one of the Err constants).
// The second result is false when the spec has none.
func (s *Spec) ProtocolError(id string) (ProtocolError, bool) {
	for _, e := range s.ProtocolErrors {
		if e.ID == id {
			return e, true
		}
	}
	return ProtocolError{}, false
}

// Operation is one RPC action.
type Operation struct {
	Action  string
	Product string
	Version string
	Summary string
	Sources []string
	// Changes are the kinds of resource an accepted request creates or changes (x-changes,
	// one of Resources each), sorted; empty for read-only operations.
	Changes []string
	// Mutates is true for operations that create or change resources (Changes is not
	// empty); the conformance engine refuses them against real endpoints unless allowed.
	Mutates bool
	// Parameters are every request parameter, common ones included, sorted by name.
	Parameters []*Parameter
	// Rules are every parameter-level rule: those derived from the parameters' schemas and
	// those of x-rules, sorted by ID.
	Rules []*Rule
	// StateRules are the preconditions on server state (x-state-rules), sorted by ID.
	StateRules []*StateRule
	// Errors are the operation's error table (x-errors), sorted.
	Errors []ErrorCode
	// Examples are the documents' success examples, sorted by name.
	Examples    []Example
	Ambiguities []Ambiguity

	op     *openapi3.Operation
	path   string
	params map[string]*Parameter
	cases  struct { // Cases' enumeration, made once
		once sync.Once
		list []Case
	}
}

// Parameter returns the named parameter, or nil.
func (op *Operation) Parameter(name string) *Parameter { return op.params[name] }

// Rule returns the rule with the given ID, or nil.
func (op *Operation) Rule(id string) *Rule {
	for _, r := range op.Rules {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// StateRule returns the state rule of the given kind, or nil.
func (op *Operation) StateRule(kind StateKind) *StateRule {
	for _, r := range op.StateRules {
		if r.Kind == kind {
			return r
		}
	}
	return nil
}

// Error returns the first entry of the error table with the given code.
func (op *Operation) Error(code string) (ErrorCode, bool) {
	for _, e := range op.Errors {
		if e.Code == code {
			return e, true
		}
	}
	return ErrorCode{}, false
}

// HasError reports whether the operation's table lists (status, code).
func (op *Operation) HasError(status int, code string) bool {
	for _, e := range op.Errors {
		if e.Status == status && e.Code == code {
			return true
		}
	}
	return false
}

// OpenAPI returns the operation's OpenAPI object and pseudo-path.
func (op *Operation) OpenAPI() (path string, operation *openapi3.Operation) { return op.path, op.op }

// SuccessSchema returns the schema of the 200 response body.
func (op *Operation) SuccessSchema() *openapi3.SchemaRef {
	r := op.op.Responses.Status(200)
	if r == nil || r.Value == nil {
		return nil
	}
	mt := r.Value.Content.Get("application/json")
	if mt == nil {
		return nil
	}
	return mt.Schema
}

// XMLRoot returns the root element name of the XML success body.
func (op *Operation) XMLRoot() string {
	if s := op.SuccessSchema(); s != nil && s.Value != nil && s.Value.XML != nil && s.Value.XML.Name != "" {
		return s.Value.XML.Name
	}
	return op.Action + "Response"
}

// Type is a parameter's wire type.
type Type string

// Parameter types.
const (
	String     Type = "string"
	Integer    Type = "integer"
	Boolean    Type = "boolean"
	List       Type = "list"        // Name.1 .. Name.N
	ObjectList Type = "object-list" // Name.1.Field .. Name.N.Field
)

// Parameter is one request parameter with its unconditional constraints.
type Parameter struct {
	Name        string
	Type        Type
	Format      string // int32, int64 for integers
	Required    bool
	Common      bool // carried by every operation (Action, Version, signature parameters)
	Auth        bool // only required when the endpoint authenticates
	Description string
	Enum        []string
	Default     string
	HasDefault  bool
	Minimum     *int64
	Maximum     *int64
	MinLength   *int
	MaxLength   *int
	Pattern     string
	NotPrefix   []string
	TimeLayout  string
	Example     string
	// MaxItems and Fields describe repeated parameters.
	MaxItems int
	Fields   []string
	// FieldEnums are per-field allowed values of an object list, or, under the key "",
	// the allowed item values of a plain list.
	FieldEnums map[string][]string
	// Violation is the error its own constraints map to.
	Violation  *Violation
	AlsoAccept []AltError
	Variants   []ParamVariant
	// Ambiguous, when set, makes every violation of this parameter's own constraints ambiguous.
	Ambiguous string
}

// WireNames returns the names this parameter takes on the wire for n items: the name itself
// for scalars, Name.1..Name.n for lists, Name.i.Field for object lists.
func (p *Parameter) WireNames(n int) []string {
	switch p.Type {
	case List:
		out := make([]string, 0, n)
		for i := 1; i <= n; i++ {
			out = append(out, fmt.Sprintf("%s.%d", p.Name, i))
		}
		return out
	case ObjectList:
		var out []string
		for i := 1; i <= n; i++ {
			for _, f := range p.Fields {
				out = append(out, fmt.Sprintf("%s.%d.%s", p.Name, i, f))
			}
		}
		return out
	}
	return []string{p.Name}
}

// Violation is the error a parameter's schema constraints map to.
type Violation struct {
	Status  int     `json:"status"`
	Code    string  `json:"code"`
	Mapping Mapping `json:"mapping"`
	Source  string  `json:"source"`
	Quote   string  `json:"quote"`
}

// AltError is an additional (status, code) another document gives for the same violation.
// An endpoint answering with it is accepted and the answer is reported as ambiguous.
type AltError struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Source string `json:"source"`
}

// ParamVariant is what another document says about a parameter's constraints.
type ParamVariant struct {
	Source    string   `json:"source"`
	Says      string   `json:"says"`
	Enum      []string `json:"enum,omitempty"`
	Minimum   *int64   `json:"minimum,omitempty"`
	Maximum   *int64   `json:"maximum,omitempty"`
	MinLength *int     `json:"minLength,omitempty"`
	MaxLength *int     `json:"maxLength,omitempty"`
	Required  *bool    `json:"required,omitempty"`
}

// Mapping says whether the document names the error code for a violation.
type Mapping string

// Mappings.
const (
	Documented Mapping = "documented" // the document names the code for this violation
	Inferred   Mapping = "inferred"   // the document states the rule but not the code
)

// ErrorRef is an (HTTP status, error Code) pair.
type ErrorRef struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
}

func (e ErrorRef) String() string { return fmt.Sprintf("%d %s", e.Status, e.Code) }

// ErrorCode is one row of an operation's error table.
type ErrorCode struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// Source is the seed file, "api-metadata" for codes only the current metadata lists, or
	// "inferred" for codes the spec uses where no table names one.
	Source string `json:"source"`
}

// Ref returns the row's (status, code) pair.
func (e ErrorCode) Ref() ErrorRef { return ErrorRef{Status: e.Status, Code: e.Code} }

// Example is one of the documents' success examples, as JSON.
type Example struct {
	Name    string
	Summary string
	Value   any
}

// Ambiguity is a place where the documents disagree or are silent; the oracle accepts either
// outcome there and says why.
type Ambiguity struct {
	ID        string         `json:"id"`
	Operation string         `json:"operation,omitempty"`
	Subject   string         `json:"subject"`
	Summary   string         `json:"summary"`
	Expected  string         `json:"expected,omitempty"`
	Accepts   string         `json:"accepts,omitempty"`
	Sources   []AmbiguitySrc `json:"sources,omitempty"`
}

// AmbiguitySrc is one document's side of an ambiguity.
type AmbiguitySrc struct {
	Source string `json:"source"`
	Says   string `json:"says"`
}

// StateKind names a precondition on server state. The emulator and the stateful phase
// switch on these.
type StateKind string

// State kinds: what the endpoint's state must be for a request to succeed, or the
// behaviour it must show.
const (
	StateRegionUnknown         StateKind = "region-unknown"            // RegionId names no region
	StateEipNotFound           StateKind = "eip-not-found"             // AllocationId names no EIP (also after release)
	StateEipNotAvailable       StateKind = "eip-not-available"         // the EIP must be Available
	StateEipNotInUse           StateKind = "eip-not-in-use"            // the EIP must be InUse
	StateEipNotBoundToInstance StateKind = "eip-not-bound-to-instance" // the EIP is not associated with InstanceId
	StateEipPrepaid            StateKind = "eip-prepaid"               // subscription EIPs cannot be released
	StateInstanceNotFound      StateKind = "instance-not-found"        // InstanceId names no instance
	StateInstanceStatus        StateKind = "instance-status"           // the instance must be Running or Stopped
	StateInstanceHasEip        StateKind = "instance-has-eip"          // an instance holds at most one EIP
	StateInstanceHasPublicIP   StateKind = "instance-has-public-ip"    // one ECS public IP per instance
	StateInstanceLocked        StateKind = "instance-locked"           // locked for security
	StateInstanceExpired       StateKind = "instance-expired"          // expired or in arrears
	StateInstanceZeroBandwidth StateKind = "instance-zero-bandwidth"   // outbound bandwidth 0
	StateInstanceNotVPC        StateKind = "instance-not-vpc"          // only VPC instances hold EIPs
	StateRegionMismatch        StateKind = "region-mismatch"           // EIP and instance in different regions
	StateIPInUse               StateKind = "ip-in-use"                 // the requested IpAddress is held
	StateIPNotRecentlyReleased StateKind = "ip-not-recently-released"  // re-allocation only within 7 days
	StatePoolUnusable          StateKind = "pool-unusable"             // the IP address pool cannot allocate
	StateQuotaExceeded         StateKind = "quota-exceeded"            // the region's EIP quota is used up
	StateResourceGroupUnknown  StateKind = "resource-group-unknown"    // ResourceGroupId names no group
	StateVlanNotFound          StateKind = "vlan-not-found"            // VlanId names no VLAN
	StateEniNotFound           StateKind = "eni-not-found"             // InstanceId names no ENI
	StateBandwidthForMetering  StateKind = "bandwidth-for-metering"    // Bandwidth bound by the EIP's metering
	StateClientTokenIdempotent StateKind = "client-token-idempotent"   // same token, same result, nothing new
	StatePagination            StateKind = "pagination"                // disjoint pages, TotalCount counts all
	StateMonitorSeries         StateKind = "monitor-series"            // one point per Period, at most 200
	StateEniGatewayInfo        StateKind = "eni-gateway-info"          // one EipInfo per MULTI_BINDED EIP
	StateServiceOpenOnce       StateKind = "service-open-once"         // opening again changes nothing
	StateAddressesExhausted    StateKind = "addresses-exhausted"       // no address left to hand out
)

// StateKinds lists every state kind the spec knows.
var StateKinds = []StateKind{
	StateRegionUnknown, StateEipNotFound, StateEipNotAvailable, StateEipNotInUse, StateEipNotBoundToInstance,
	StateEipPrepaid, StateInstanceNotFound, StateInstanceStatus, StateInstanceHasEip, StateInstanceHasPublicIP,
	StateInstanceLocked, StateInstanceExpired, StateInstanceZeroBandwidth, StateInstanceNotVPC, StateRegionMismatch,
	StateIPInUse, StateIPNotRecentlyReleased, StatePoolUnusable, StateQuotaExceeded, StateResourceGroupUnknown,
	StateVlanNotFound, StateEniNotFound, StateBandwidthForMetering, StateClientTokenIdempotent, StatePagination,
	StateMonitorSeries, StateEniGatewayInfo, StateServiceOpenOnce, StateAddressesExhausted,
}

// StateRule is a precondition on server state: it cannot be judged from the request alone,
// so the stateful phase and the emulator judge it against their model.
type StateRule struct {
	ID      string    `json:"id"`
	Kind    StateKind `json:"kind"`
	Summary string    `json:"summary"`
	// Error is the error for a violation; nil for behaviours (idempotency, pagination).
	Error   *ErrorRef `json:"error,omitempty"`
	Mapping Mapping   `json:"mapping"`
	Source  string    `json:"source"`
	Quote   string    `json:"quote"`
	// Limits carries per-value bounds (bandwidth-for-metering).
	Limits []StateLimit `json:"limits,omitempty"`
	// Requires names the action that must have been called first (pool-unusable).
	Requires string `json:"requires,omitempty"`
}

// StateLimit is an upper bound that applies when some state has Value.
type StateLimit struct {
	Value string `json:"value"`
	Max   int64  `json:"max"`
}

// String returns "Action" for log lines.
func (op *Operation) String() string { return op.Action }

func sourceList(xs []string) string { return strings.Join(xs, ", ") }

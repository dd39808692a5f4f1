package rpcxml_test

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/go-cmp/cmp"

	"github.com/eipconform/eipconform/internal/rpcxml"
)

// testDoc holds the schemas the tests decode against. They follow the shapes of spec/eip.yaml:
// list wrappers, $ref items, allOf with $ref, integers, and a few XML features the spec does
// not use yet (attributes, wrapped arrays, additionalProperties, booleans, numbers).
const testDoc = `
openapi: 3.0.3
info: {title: rpcxml test, version: "1"}
paths: {}
components:
  schemas:
    RequestIdOnly:
      type: object
      required: [RequestId]
      properties:
        RequestId: {type: string}
    Release:
      allOf: [{$ref: '#/components/schemas/RequestIdOnly'}]
      xml: {name: ReleaseEipAddressResponse}
    Merged:
      allOf:
        - {$ref: '#/components/schemas/RequestIdOnly'}
        - type: object
          properties:
            Count: {type: integer}
            Ratio: {type: number}
            Enabled: {type: boolean}
    EipAddress:
      type: object
      xml: {name: EipAddress}
      properties:
        AllocationId: {type: string}
        Bandwidth: {type: string}
        InstanceId: {type: string}
        AvailableRegions:
          type: object
          properties:
            AvailableRegion:
              type: array
              items: {type: string, xml: {name: AvailableRegion}}
        OperationLocks:
          type: object
          properties:
            LockReason:
              type: array
              items:
                type: object
                xml: {name: LockReason}
                properties:
                  LockReason: {type: string}
    Describe:
      type: object
      xml: {name: DescribeEipAddressesResponse}
      required: [RequestId, TotalCount, EipAddresses]
      properties:
        RequestId: {type: string}
        TotalCount: {type: integer}
        EipAddresses:
          type: object
          required: [EipAddress]
          properties:
            EipAddress:
              type: array
              items: {$ref: '#/components/schemas/EipAddress'}
    Features:
      type: object
      properties:
        Id: {type: string, xml: {attribute: true}}
        Size: {type: integer, xml: {name: size, attribute: true}}
        Renamed: {type: string, xml: {name: Other}}
        Tags:
          type: array
          xml: {name: TagSet, wrapped: true}
          items: {type: string, xml: {name: Tag}}
        Labels:
          type: object
          additionalProperties: {type: integer}
    Tree:
      type: object
      properties:
        Name: {type: string}
        Child: {$ref: '#/components/schemas/Tree'}
`

var (
	schemasOnce sync.Once
	schemas     openapi3.Schemas
	schemasErr  error
)

// schema returns a schema of testDoc, loaded once.
func schema(t testing.TB, name string) *openapi3.Schema {
	t.Helper()
	schemasOnce.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData([]byte(testDoc))
		if err != nil {
			schemasErr = err
			return
		}
		schemas = doc.Components.Schemas
	})
	if schemasErr != nil {
		t.Fatalf("loading the test schemas: %v", schemasErr)
	}
	ref := schemas[name]
	if ref == nil || ref.Value == nil {
		t.Fatalf("test schema %s is missing", name)
	}
	return ref.Value
}

type obj = map[string]any
type list = []any

func TestDecode(t *testing.T) {
	tests := []struct {
		name     string
		schema   string
		in       string
		wantRoot string
		want     any
	}{
		{
			name:   "list wrapper with two items",
			schema: "Describe",
			in: `<DescribeEipAddressesResponse>
  <RequestId>7EEF</RequestId>
  <TotalCount>2</TotalCount>
  <EipAddresses>
    <EipAddress><AllocationId>eip-1</AllocationId><Bandwidth>1</Bandwidth></EipAddress>
    <EipAddress><AllocationId>eip-2</AllocationId><Bandwidth>5</Bandwidth></EipAddress>
  </EipAddresses>
</DescribeEipAddressesResponse>`,
			wantRoot: "DescribeEipAddressesResponse",
			want: obj{"RequestId": "7EEF", "TotalCount": 2.0, "EipAddresses": obj{"EipAddress": list{
				obj{"AllocationId": "eip-1", "Bandwidth": "1"},
				obj{"AllocationId": "eip-2", "Bandwidth": "5"},
			}}},
		},
		{
			name:   "single item is a one-element list, empty elements",
			schema: "Describe",
			in: `<DescribeEipAddressesResponse><RequestId>7EEF</RequestId><TotalCount> 1 </TotalCount>
<EipAddresses><EipAddress>
  <InstanceId></InstanceId>
  <OperationLocks></OperationLocks>
  <AvailableRegions><AvailableRegion>cn-beijing</AvailableRegion></AvailableRegions>
</EipAddress></EipAddresses></DescribeEipAddressesResponse>`,
			wantRoot: "DescribeEipAddressesResponse",
			want: obj{"RequestId": "7EEF", "TotalCount": 1.0, "EipAddresses": obj{"EipAddress": list{obj{
				"InstanceId":       "",
				"OperationLocks":   obj{"LockReason": list{}},
				"AvailableRegions": obj{"AvailableRegion": list{"cn-beijing"}},
			}}}},
		},
		{
			name:     "empty list wrapper is an empty list",
			schema:   "Describe",
			in:       `<DescribeEipAddressesResponse><RequestId>r</RequestId><TotalCount>0</TotalCount><EipAddresses/></DescribeEipAddressesResponse>`,
			wantRoot: "DescribeEipAddressesResponse",
			want:     obj{"RequestId": "r", "TotalCount": 0.0, "EipAddresses": obj{"EipAddress": list{}}},
		},
		{
			name:   "lock reasons are items with their own LockReason",
			schema: "EipAddress",
			in: `<EipAddress><OperationLocks>
  <LockReason><LockReason>financial</LockReason></LockReason>
  <LockReason><LockReason>security</LockReason></LockReason>
</OperationLocks></EipAddress>`,
			wantRoot: "EipAddress",
			want: obj{"OperationLocks": obj{"LockReason": list{
				obj{"LockReason": "financial"}, obj{"LockReason": "security"},
			}}},
		},
		{
			name:     "allOf with $ref, declaration and comments",
			schema:   "Release",
			in:       "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- sample -->\n<ReleaseEipAddressResponse>\n  <RequestId>748C</RequestId>\n</ReleaseEipAddressResponse>\n<!-- end -->\n",
			wantRoot: "ReleaseEipAddressResponse",
			want:     obj{"RequestId": "748C"},
		},
		{
			name:     "allOf parts merge their properties",
			schema:   "Merged",
			in:       `<R><RequestId>x</RequestId><Count>-3</Count><Ratio>1.5e2</Ratio><Enabled> true </Enabled></R>`,
			wantRoot: "R",
			want:     obj{"RequestId": "x", "Count": -3.0, "Ratio": 150.0, "Enabled": true},
		},
		{
			name:     "boolean false and integral exponent",
			schema:   "Merged",
			in:       `<R><Count>1E2</Count><Enabled>false</Enabled></R>`,
			wantRoot: "R",
			want:     obj{"Count": 100.0, "Enabled": false},
		},
		{
			name:     "strings keep their text exactly, entities and CDATA decoded",
			schema:   "RequestIdOnly",
			in:       `<R><RequestId> a &amp; b<![CDATA[ <c> ]]>&#x41;</RequestId></R>`,
			wantRoot: "R",
			want:     obj{"RequestId": " a & b <c> A"},
		},
		{
			name:   "elements the schema does not list are kept as strings and maps",
			schema: "RequestIdOnly",
			in: `<R><RequestId>x</RequestId><Extra>e</Extra><Empty/>
  <Nested><A>1</A><A>2</A><A>3</A><B><C>c</C></B></Nested>
  <Twice>1</Twice><Twice><Inner>2</Inner></Twice></R>`,
			wantRoot: "R",
			want: obj{
				"RequestId": "x", "Extra": "e", "Empty": "",
				"Nested": obj{"A": list{"1", "2", "3"}, "B": obj{"C": "c"}},
				"Twice":  list{"1", obj{"Inner": "2"}},
			},
		},
		{
			name:     "attributes, renamed elements, wrapped arrays, additionalProperties",
			schema:   "Features",
			in:       `<F Id="f-1" size="7" ignored="x"><Other>o</Other><TagSet><Tag>a</Tag><Tag>b</Tag></TagSet><Labels><x>1</x><y>2</y></Labels></F>`,
			wantRoot: "F",
			want:     obj{"Id": "f-1", "Size": 7.0, "Renamed": "o", "Tags": list{"a", "b"}, "Labels": obj{"x": 1.0, "y": 2.0}},
		},
		{
			name:     "empty wrapped array",
			schema:   "Features",
			in:       `<F><TagSet></TagSet></F>`,
			wantRoot: "F",
			want:     obj{"Tags": list{}},
		},
		{
			name:     "recursive schema",
			schema:   "Tree",
			in:       `<T><Name>a</Name><Child><Name>b</Name><Child><Name>c</Name></Child></Child></T>`,
			wantRoot: "T",
			want:     obj{"Name": "a", "Child": obj{"Name": "b", "Child": obj{"Name": "c"}}},
		},
		{
			name:     "no schema: best effort",
			in:       `<R><A>1</A><B><C/></B></R>`,
			wantRoot: "R",
			want:     obj{"A": "1", "B": obj{"C": ""}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s *openapi3.Schema
			if tt.schema != "" {
				s = schema(t, tt.schema)
			}
			root, got, err := rpcxml.Decode([]byte(tt.in), s, rpcxml.Options{})
			if err != nil {
				t.Fatalf("Decode(%s, schema %s) = %v, want success", clipped(tt.in), tt.schema, err)
			}
			if root != tt.wantRoot {
				t.Errorf("Decode(%s, schema %s) root = %q, want %q", clipped(tt.in), tt.schema, root, tt.wantRoot)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decode(%s, schema %s) value mismatch (-want +got):\n%s", clipped(tt.in), tt.schema, diff)
			}
		})
	}
}

// TestDecodeErrors covers malformed and hostile input: every case is an *Error naming where
// it happened and what was expected, never a panic.
func TestDecodeErrors(t *testing.T) {
	deep := strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100)
	tests := []struct {
		name     string
		schema   string
		in       string
		opts     rpcxml.Options
		wantPath string
		wantMsg  string // substring of the message
	}{
		{name: "empty input", in: "", wantMsg: "no root element"},
		{name: "white space only", in: " \n\t", wantMsg: "no root element"},
		{name: "garbage", in: "not xml at all", wantMsg: "before the root element"},
		{name: "binary garbage", in: "\x00\x01\x02<", wantMsg: "not well-formed XML"},
		{name: "JSON body", in: `{"RequestId":"x"}`, wantMsg: "before the root element"},
		{name: "truncated in text", schema: "Describe", in: "<DescribeEipAddressesResponse><RequestId>abc", wantPath: "/DescribeEipAddressesResponse/RequestId", wantMsg: "input ends inside <RequestId>; want </RequestId>"},
		{name: "truncated in tag", schema: "Describe", in: "<DescribeEipAddressesResponse><Req", wantPath: "/DescribeEipAddressesResponse", wantMsg: "input ends inside <DescribeEipAddressesResponse>"},
		{name: "truncated after root start", in: "<R>", wantPath: "/R", wantMsg: "input ends inside <R>"},
		{name: "mismatched end tag", schema: "RequestIdOnly", in: "<R><RequestId>x</Request></R>", wantPath: "/R/RequestId", wantMsg: "not well-formed XML"},
		{name: "two roots", schema: "RequestIdOnly", in: "<R/><R/>", wantMsg: "got element <R> after the root element"},
		{name: "text after root", schema: "RequestIdOnly", in: "<R/>trailing", wantMsg: "after the root element"},
		{name: "doctype", in: `<!DOCTYPE R [<!ENTITY x "y">]><R>&x;</R>`, wantMsg: "want no DOCTYPE"},
		{name: "undefined entity", schema: "RequestIdOnly", in: "<R><RequestId>&x;</RequestId></R>", wantPath: "/R/RequestId", wantMsg: "not well-formed XML"},
		{name: "NUL character reference", schema: "RequestIdOnly", in: "<R><RequestId>&#0;</RequestId></R>", wantPath: "/R/RequestId", wantMsg: "not well-formed XML"},
		{name: "invalid UTF-8", schema: "RequestIdOnly", in: "<R>\n<RequestId>\xff\xfe</RequestId></R>", wantMsg: "invalid UTF-8 at byte offset 15"},
		{name: "other encoding declared", in: `<?xml version="1.0" encoding="GBK"?><R/>`, wantMsg: `the XML declaration names encoding "GBK"; want UTF-8`},
		{name: "larger than MaxBytes", in: "<R>" + strings.Repeat("x", 100) + "</R>", opts: rpcxml.Options{MaxBytes: 64}, wantMsg: "input is 107 bytes, more than the 64 allowed"},
		{name: "larger than the default MaxBytes", in: "<R>" + strings.Repeat("x", rpcxml.DefaultMaxBytes) + "</R>", wantMsg: "more than the 1048576 allowed"},
		{name: "deeper than the default MaxDepth", in: deep, wantPath: "/a" + strings.Repeat("/a", rpcxml.DefaultMaxDepth), wantMsg: "nested 65 deep, more than the 64 allowed"},
		{name: "deeper than MaxDepth in a known schema", schema: "Tree", in: "<T><Child><Child><Child/></Child></Child></T>", opts: rpcxml.Options{MaxDepth: 3}, wantPath: "/T/Child/Child/Child", wantMsg: "nested 4 deep"},
		{name: "integer not a number", schema: "Describe", in: "<R><TotalCount>ten</TotalCount></R>", wantPath: "/R/TotalCount", wantMsg: `got "ten", want a number (schema type integer)`},
		{name: "empty integer", schema: "Describe", in: "<R><TotalCount></TotalCount></R>", wantPath: "/R/TotalCount", wantMsg: `got "", want a number`},
		{name: "integer with a fraction", schema: "Describe", in: "<R><TotalCount>1.5</TotalCount></R>", wantPath: "/R/TotalCount", wantMsg: "want an integer"},
		{name: "hexadecimal", schema: "Merged", in: "<R><Ratio>0x10</Ratio></R>", wantPath: "/R/Ratio", wantMsg: "want a number (schema type number)"},
		{name: "NaN", schema: "Merged", in: "<R><Ratio>NaN</Ratio></R>", wantPath: "/R/Ratio", wantMsg: "want a number"},
		{name: "overflow", schema: "Merged", in: "<R><Ratio>1e999</Ratio></R>", wantPath: "/R/Ratio", wantMsg: "want a number a float64 can hold"},
		{name: "leading plus", schema: "Merged", in: "<R><Count>+1</Count></R>", wantPath: "/R/Count", wantMsg: "want a number"},
		{name: "boolean yes", schema: "Merged", in: "<R><Enabled>yes</Enabled></R>", wantPath: "/R/Enabled", wantMsg: `got "yes", want true or false`},
		{name: "integer attribute", schema: "Features", in: `<F size="big"/>`, wantPath: "/F/@size", wantMsg: "want a number"},
		{name: "duplicate scalar", schema: "RequestIdOnly", in: "<R><RequestId>a</RequestId><RequestId>b</RequestId></R>", wantPath: "/R/RequestId", wantMsg: "element <RequestId> appears twice; want at most one (schema type string)"},
		{name: "duplicate object", schema: "Describe", in: "<R><EipAddresses/><EipAddresses/></R>", wantPath: "/R/EipAddresses", wantMsg: "appears twice"},
		{name: "element inside a string", schema: "RequestIdOnly", in: "<R><RequestId><b>x</b></RequestId></R>", wantPath: "/R/RequestId", wantMsg: "got element <b>; want text only (schema type string)"},
		{name: "text inside an object", schema: "Describe", in: "<R><EipAddresses>oops</EipAddresses></R>", wantPath: "/R/EipAddresses", wantMsg: `got text "oops"; want child elements`},
		{name: "wrong item in a wrapped array", schema: "Features", in: "<F><TagSet><Tag>a</Tag><Label>b</Label></TagSet></F>", wantPath: "/F/TagSet", wantMsg: "got element <Label>; want <Tag> items"},
		{name: "error path numbers items", schema: "Describe", in: "<R><EipAddresses><EipAddress/><EipAddress><AvailableRegions><AvailableRegion><x/></AvailableRegion></AvailableRegions></EipAddress></EipAddresses></R>", wantPath: "/R/EipAddresses/EipAddress[2]/AvailableRegions/AvailableRegion[1]", wantMsg: "want text only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s *openapi3.Schema
			if tt.schema != "" {
				s = schema(t, tt.schema)
			}
			root, got, err := rpcxml.Decode([]byte(tt.in), s, tt.opts)
			if err == nil {
				t.Fatalf("Decode(%s, schema %s) = %q, %v, nil; want an error containing %q", clipped(tt.in), tt.schema, root, got, tt.wantMsg)
			}
			if root != "" || got != nil {
				t.Errorf("Decode(%s, schema %s) failed but returned root %q, value %v; want \"\", nil", clipped(tt.in), tt.schema, root, got)
			}
			var e *rpcxml.Error
			if !errors.As(err, &e) {
				t.Fatalf("Decode(%s, schema %s) error %v is a %T, want *rpcxml.Error", clipped(tt.in), tt.schema, err, err)
			}
			if e.Path != tt.wantPath || !strings.Contains(e.Msg, tt.wantMsg) {
				t.Errorf("Decode(%s, schema %s) error = %v\nwant path %q and a message containing %q", clipped(tt.in), tt.schema, err, tt.wantPath, tt.wantMsg)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	err := &rpcxml.Error{Path: "/R/TotalCount", Line: 3, Msg: `got "ten", want a number (schema type integer)`}
	const want = `rpcxml: line 3: /R/TotalCount: got "ten", want a number (schema type integer)`
	if got := err.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// clipped shortens an input for a failure message.
func clipped(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return strings.ReplaceAll(s, "\n", `\n`)
}

// FuzzDecode checks that Decode never panics and that its results are consistent: an error is
// an *Error with no root and no value; a success has a root and a value that survives a JSON
// round trip unchanged (no NaN, no infinity, only JSON types), and decoding is deterministic.
//
//	go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime 30s ./internal/rpcxml
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		"<DescribeEipAddressesResponse><RequestId>r</RequestId><TotalCount>2</TotalCount><EipAddresses><EipAddress><AllocationId>a</AllocationId><OperationLocks/></EipAddress><EipAddress/></EipAddresses></DescribeEipAddressesResponse>",
		"<?xml version=\"1.0\"?><R><TotalCount>1e2</TotalCount><Extra><A>1</A><A>2</A></Extra></R>",
		"<R><TotalCount>1.5</TotalCount></R>",
		"<R><RequestId>a</RequestId><RequestId>b</RequestId></R>",
		"<R><EipAddresses>text</EipAddresses>",
		strings.Repeat("<a>", 70),
		"<!DOCTYPE x><x/>",
		"\xff<R/>",
		"",
	} {
		f.Add([]byte(seed))
	}
	s := schema(f, "Describe")
	opts := rpcxml.Options{MaxBytes: 1 << 16, MaxDepth: 32}
	f.Fuzz(func(t *testing.T, in []byte) {
		root, got, err := rpcxml.Decode(in, s, opts)
		if err != nil {
			var e *rpcxml.Error
			if !errors.As(err, &e) {
				t.Fatalf("Decode(%q) error %v is a %T, want *rpcxml.Error", in, err, err)
			}
			if root != "" || got != nil {
				t.Fatalf("Decode(%q) = %q, %v, %v; want no root and no value with an error", in, root, got, err)
			}
			return
		}
		if root == "" {
			t.Fatalf("Decode(%q) succeeded with an empty root name", in)
		}
		if _, ok := got.(map[string]any); !ok {
			t.Fatalf("Decode(%q) value is a %T, want map[string]any for an object schema", in, got)
		}
		data, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("Decode(%q) value %v does not marshal as JSON: %v", in, got, err)
		}
		var back any
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatalf("Decode(%q): json.Unmarshal(%s) = %v", in, data, err)
		}
		if diff := cmp.Diff(back, got); diff != "" {
			t.Fatalf("Decode(%q) value differs from its JSON round trip (-json +decoded):\n%s", in, diff)
		}
		root2, got2, err := rpcxml.Decode(in, s, opts)
		if err != nil || root2 != root || !cmp.Equal(got, got2) {
			t.Fatalf("Decode(%q) is not deterministic: %q, %v, then %q, %v, %v", in, root, got, root2, got2, err)
		}
	})
}

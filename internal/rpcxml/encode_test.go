package rpcxml_test

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/eipconform/eipconform/internal/rpcxml"
	"github.com/eipconform/eipconform/spec"
)

func TestEncode(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		root   string
		in     any
		want   string // after the header
	}{
		{
			name:   "list wrapper, sorted keys, numbers as encoding/json writes them",
			schema: "Describe",
			root:   "DescribeEipAddressesResponse",
			in: obj{"TotalCount": 2.0, "RequestId": "7EEF", "EipAddresses": obj{"EipAddress": list{
				obj{"AllocationId": "eip-1", "AvailableRegions": obj{"AvailableRegion": list{"cn-beijing", "cn-hangzhou"}}},
				obj{"AllocationId": "eip-2", "OperationLocks": obj{"LockReason": list{obj{"LockReason": "financial"}}}},
			}}},
			want: `<DescribeEipAddressesResponse><EipAddresses>` +
				`<EipAddress><AllocationId>eip-1</AllocationId><AvailableRegions><AvailableRegion>cn-beijing</AvailableRegion><AvailableRegion>cn-hangzhou</AvailableRegion></AvailableRegions></EipAddress>` +
				`<EipAddress><AllocationId>eip-2</AllocationId><OperationLocks><LockReason><LockReason>financial</LockReason></LockReason></OperationLocks></EipAddress>` +
				`</EipAddresses><RequestId>7EEF</RequestId><TotalCount>2</TotalCount></DescribeEipAddressesResponse>`,
		},
		{
			name:   "empty list wrapper, null list, nil value",
			schema: "Describe",
			root:   "R",
			in:     obj{"EipAddresses": obj{"EipAddress": list{}}, "RequestId": nil},
			want:   `<R><EipAddresses></EipAddresses><RequestId></RequestId></R>`,
		},
		{
			name:   "a single value under an array property is one item",
			schema: "Describe",
			root:   "R",
			in:     obj{"EipAddresses": obj{"EipAddress": obj{"AllocationId": "a"}}},
			want:   `<R><EipAddresses><EipAddress><AllocationId>a</AllocationId></EipAddress></EipAddresses></R>`,
		},
		{
			name:   "escaping: markup, carriage return, invalid characters",
			schema: "RequestIdOnly",
			root:   "R",
			in:     obj{"RequestId": "a&b <c> \"q\" 's' \r\n\t\x00\x1f\xff 名 ]]>"},
			want:   "<R><RequestId>a&amp;b &lt;c&gt; \"q\" 's' &#xD;\n\t\ufffd\ufffd\ufffd 名 ]]&gt;</RequestId></R>",
		},
		{
			name:   "integers, large and small floats, json.Number, booleans",
			schema: "Merged",
			root:   "R",
			in:     obj{"Count": 3.266691e+07, "Ratio": 1e21, "Enabled": false, "A": 0.000001, "B": 1e-7, "C": json.Number("1e2"), "D": int64(-5), "E": uint8(7), "F": float32(0.1)},
			want:   `<R><A>0.000001</A><B>1e-7</B><C>1e2</C><Count>32666910</Count><D>-5</D><E>7</E><Enabled>false</Enabled><F>0.1</F><Ratio>1e+21</Ratio></R>`,
		},
		{
			name:   "attributes, renamed elements, wrapped arrays, additionalProperties",
			schema: "Features",
			root:   "F",
			in:     obj{"Id": `f"1<`, "Size": 7.0, "Renamed": "o", "Tags": list{"a", "b"}, "Labels": obj{"y": 2.0, "x": 1.0}},
			want:   `<F Id="f&#34;1&lt;" size="7"><Labels><x>1</x><y>2</y></Labels><Other>o</Other><TagSet><Tag>a</Tag><Tag>b</Tag></TagSet></F>`,
		},
		{
			name:   "elements the schema does not list",
			schema: "RequestIdOnly",
			root:   "R",
			in:     obj{"RequestId": "x", "Nested": obj{"A": list{"1", "2"}, "B": obj{"C": ""}}, "Twice": list{"1", obj{"Inner": "2"}}},
			want:   `<R><Nested><A>1</A><A>2</A><B><C></C></B></Nested><RequestId>x</RequestId><Twice>1</Twice><Twice><Inner>2</Inner></Twice></R>`,
		},
		{
			name: "no schema, scalar root",
			root: "R",
			in:   "text",
			want: `<R>text</R>`,
		},
		{
			name: "no schema, list root",
			root: "R",
			in:   list{"a", "b"},
			want: `<R><R>a</R><R>b</R></R>`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s *openapi3.Schema
			if tt.schema != "" {
				s = schema(t, tt.schema)
			}
			got, err := rpcxml.Encode(tt.root, tt.in, s)
			if err != nil {
				t.Fatalf("Encode(%q, %v, schema %s) = %v, want success", tt.root, tt.in, tt.schema, err)
			}
			want := rpcxml.Header + tt.want
			if diff := cmp.Diff(want, string(got)); diff != "" {
				t.Errorf("Encode(%q, %v, schema %s) mismatch (-want +got):\n%s", tt.root, tt.in, tt.schema, diff)
			}
		})
	}
}

// TestEncodeRoundTrip checks Decode(Encode(v)) == v for values of the test schemas.
func TestEncodeRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		in     any
	}{
		{"list wrapper", "Describe", obj{"RequestId": "r", "TotalCount": 2.0, "EipAddresses": obj{"EipAddress": list{
			obj{"AllocationId": "a", "AvailableRegions": obj{"AvailableRegion": list{"x"}}, "OperationLocks": obj{"LockReason": list{}}},
			obj{"Bandwidth": ""},
		}}}},
		{"empty list wrapper", "Describe", obj{"RequestId": "r", "EipAddresses": obj{"EipAddress": list{}}}},
		{"scalars", "Merged", obj{"RequestId": " spaced \r\n text ", "Count": -3.0, "Ratio": 1.5e300, "Enabled": true}},
		{"attributes and wrapped arrays", "Features", obj{"Id": "a\"b\tc\nd", "Size": 0.0, "Tags": list{}, "Labels": obj{"k": 1.0}, "Renamed": "<&>"}},
		{"recursive", "Tree", obj{"Name": "a", "Child": obj{"Name": "b", "Child": obj{}}}},
		{"unknown elements", "RequestIdOnly", obj{"RequestId": "x", "U": obj{"L": list{"1", obj{"M": "2"}, ""}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := schema(t, tt.schema)
			roundTrip(t, "R", tt.in, s)
		})
	}
}

// TestEncodeSpecExamples checks Decode(Encode(v)) == v for the success example of every
// operation of the spec, with its XML root and success schema.
func TestEncodeSpecExamples(t *testing.T) {
	for _, op := range spec.Default().Operations {
		for _, ex := range op.Examples {
			t.Run(op.Action+"/"+ex.Name, func(t *testing.T) {
				roundTrip(t, op.XMLRoot(), jsonShape(t, ex.Value), op.SuccessSchema().Value)
			})
		}
	}
}

// roundTrip encodes in and decodes the result with the same schema.
func roundTrip(t *testing.T, root string, in any, s *openapi3.Schema) {
	t.Helper()
	data, err := rpcxml.Encode(root, in, s)
	if err != nil {
		t.Fatalf("Encode(%q, %v) = %v, want success", root, in, err)
	}
	gotRoot, got, err := rpcxml.Decode(data, s, rpcxml.Options{})
	if err != nil {
		t.Fatalf("Decode(Encode(%q, %v)) = %v\nencoded: %s", root, in, err, data)
	}
	if gotRoot != root {
		t.Errorf("Decode(Encode(%q, ...)) root = %q, want %q", root, gotRoot, root)
	}
	if diff := cmp.Diff(in, got); diff != "" {
		t.Errorf("Decode(Encode(%q, v)) mismatch (-v +decoded):\n%s\nencoded: %s", root, diff, data)
	}
}

// jsonShape returns v as encoding/json decodes its JSON (numbers as float64): spec examples
// come from YAML and may hold ints.
func jsonShape(t testing.TB, v any) any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal(%v) = %v", v, err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("json.Unmarshal(%s) = %v", data, err)
	}
	return out
}

func TestEncodeErrors(t *testing.T) {
	cyclic := obj{}
	cyclic["Self"] = cyclic
	tests := []struct {
		name     string
		schema   string
		root     string
		in       any
		wantPath string
		wantMsg  string
	}{
		{name: "empty root name", root: "", in: obj{}, wantPath: "/", wantMsg: `"" is not an XML element name`},
		{name: "root name with a space", root: "A B", in: "x", wantPath: "/A B", wantMsg: "is not an XML element name"},
		{name: "key starting with a digit", root: "R", in: obj{"1a": "x"}, wantPath: "/R/1a", wantMsg: `"1a" is not an XML element name`},
		{name: "key with a namespace prefix", root: "R", in: obj{"x:y": "x"}, wantPath: "/R/x:y", wantMsg: "is not an XML element name"},
		{name: "non-ASCII key", root: "R", in: obj{"名": "x"}, wantPath: "/R/名", wantMsg: "is not an XML element name"},
		{name: "NaN", schema: "Merged", root: "R", in: obj{"Ratio": math.NaN()}, wantPath: "/R/Ratio", wantMsg: "want a finite number"},
		{name: "infinity", schema: "Merged", root: "R", in: obj{"Ratio": math.Inf(-1)}, wantPath: "/R/Ratio", wantMsg: "want a finite number"},
		{name: "bad json.Number", root: "R", in: obj{"N": json.Number("0x10")}, wantPath: "/R/N", wantMsg: `json.Number "0x10" is not a JSON number`},
		{name: "unsupported type", root: "R", in: obj{"S": []string{"a"}}, wantPath: "/R/S", wantMsg: "got a []string; want a JSON-shaped value"},
		{name: "typed struct", root: "R", in: struct{ A string }{"a"}, wantPath: "/R", wantMsg: "want a JSON-shaped value"},
		{name: "list inside a list", root: "R", in: obj{"L": list{list{"a"}}}, wantPath: "/R/L[1]", wantMsg: "got a list inside a list"},
		{name: "object as an attribute", schema: "Features", root: "F", in: obj{"Id": obj{}}, wantPath: "/F/@Id", wantMsg: "want a scalar here"},
		{name: "cyclic map", root: "R", in: cyclic, wantPath: "/R" + strings.Repeat("/Self", rpcxml.DefaultMaxDepth), wantMsg: "more than the 64 Decode accepts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s *openapi3.Schema
			if tt.schema != "" {
				s = schema(t, tt.schema)
			}
			got, err := rpcxml.Encode(tt.root, tt.in, s)
			if err == nil {
				t.Fatalf("Encode(%q, schema %s) = %s, nil; want an error containing %q", tt.root, tt.schema, got, tt.wantMsg)
			}
			if got != nil {
				t.Errorf("Encode(%q, schema %s) failed but returned %q; want nil", tt.root, tt.schema, got)
			}
			var e *rpcxml.Error
			if !errors.As(err, &e) {
				t.Fatalf("Encode(%q, schema %s) error %v is a %T, want *rpcxml.Error", tt.root, tt.schema, err, err)
			}
			if e.Path != tt.wantPath || !strings.Contains(e.Msg, tt.wantMsg) {
				t.Errorf("Encode(%q, schema %s) error = %v\nwant path %q and a message containing %q", tt.root, tt.schema, err, tt.wantPath, tt.wantMsg)
			}
		})
	}
}

// TestEncodeSDK checks that the Go SDK's response structs read our XML as they read the JSON
// of the same example: for every Vpc operation of the spec, xml.Unmarshal of Encode(example)
// into the SDK's response struct equals json.Unmarshal of the example's JSON.
func TestEncodeSDK(t *testing.T) {
	sdkResponses := map[string]func() any{
		"AllocateEipAddress":             func() any { return vpc.CreateAllocateEipAddressResponse() },
		"AssociateEipAddress":            func() any { return vpc.CreateAssociateEipAddressResponse() },
		"UnassociateEipAddress":          func() any { return vpc.CreateUnassociateEipAddressResponse() },
		"ModifyEipAddressAttribute":      func() any { return vpc.CreateModifyEipAddressAttributeResponse() },
		"DescribeEipAddresses":           func() any { return vpc.CreateDescribeEipAddressesResponse() },
		"ReleaseEipAddress":              func() any { return vpc.CreateReleaseEipAddressResponse() },
		"DescribeEipGatewayInfo":         func() any { return vpc.CreateDescribeEipGatewayInfoResponse() },
		"DescribeEipMonitorData":         func() any { return vpc.CreateDescribeEipMonitorDataResponse() },
		"OpenPublicIpAddressPoolService": func() any { return vpc.CreateOpenPublicIpAddressPoolServiceResponse() },
	}
	// BaseResponse holds the HTTP response, which neither Unmarshal fills.
	ignoreBase := cmpopts.IgnoreTypes(vpc.CreateReleaseEipAddressResponse().BaseResponse)
	tested := 0
	for _, op := range spec.Default().Operations {
		newResponse, ok := sdkResponses[op.Action]
		if !ok {
			continue // Ecs and VpcIpam: not compiled in, to keep the tests fast
		}
		for _, ex := range op.Examples {
			tested++
			t.Run(op.Action+"/"+ex.Name, func(t *testing.T) {
				data, err := rpcxml.Encode(op.XMLRoot(), jsonShape(t, ex.Value), op.SuccessSchema().Value)
				if err != nil {
					t.Fatalf("Encode = %v", err)
				}
				fromXML, fromJSON := newResponse(), newResponse()
				if err := xml.Unmarshal(data, fromXML); err != nil {
					t.Fatalf("xml.Unmarshal(Encode(example), %T) = %v\nencoded: %s", fromXML, err, data)
				}
				js, _ := json.Marshal(ex.Value)
				if err := json.Unmarshal(js, fromJSON); err != nil {
					t.Fatalf("json.Unmarshal(example, %T) = %v", fromJSON, err)
				}
				if diff := cmp.Diff(fromJSON, fromXML, ignoreBase); diff != "" {
					t.Errorf("%T read from our XML differs from the same example's JSON (-json +xml):\n%s\nencoded: %s", fromXML, diff, data)
				}
			})
		}
	}
	if tested == 0 {
		t.Fatal("no spec example has an SDK response struct; the operation names changed?")
	}

	t.Run("DescribeEipAddresses fields", func(t *testing.T) {
		op := spec.Default().Operation("DescribeEipAddresses")
		data, err := rpcxml.Encode(op.XMLRoot(), jsonShape(t, op.Examples[0].Value), op.SuccessSchema().Value)
		if err != nil {
			t.Fatalf("Encode = %v", err)
		}
		var got vpc.DescribeEipAddressesResponse
		if err := xml.Unmarshal(data, &got); err != nil {
			t.Fatalf("xml.Unmarshal = %v\nencoded: %s", err, data)
		}
		if got.TotalCount != 1 || got.PageSize != 10 || len(got.EipAddresses.EipAddress) != 1 {
			t.Fatalf("SDK read TotalCount %d, PageSize %d, %d EipAddress; want 1, 10, 1\nencoded: %s", got.TotalCount, got.PageSize, len(got.EipAddresses.EipAddress), data)
		}
		eip := got.EipAddresses.EipAddress[0]
		if eip.AllocationId != "eip-2ze88m67qx5zxxxxx" {
			t.Errorf("SDK read AllocationId %q, want eip-2ze88m67qx5zxxxxx", eip.AllocationId)
		}
		if diff := cmp.Diff([]string{"cn-beijing"}, eip.AvailableRegions.AvailableRegion); diff != "" {
			t.Errorf("SDK AvailableRegions mismatch (-want +got):\n%s", diff)
		}
	})
}

// FuzzEncodeDecode checks that Encode inverts Decode: whatever Decode reads, Encode writes back
// so that Decode reads the same root and value. Encode may refuse only names it cannot write.
//
//	go test -run '^$' -fuzz '^FuzzEncodeDecode$' -fuzztime 30s ./internal/rpcxml
func FuzzEncodeDecode(f *testing.F) {
	for _, seed := range []string{
		"<DescribeEipAddressesResponse><RequestId>r&#xD;\n</RequestId><TotalCount>2</TotalCount><EipAddresses><EipAddress><AllocationId>a</AllocationId><OperationLocks/><AvailableRegions><AvailableRegion>x</AvailableRegion></AvailableRegions></EipAddress><EipAddress/></EipAddresses></DescribeEipAddressesResponse>",
		"<R><TotalCount>1e2</TotalCount><Extra><A>1</A><A>2</A><A><B/></A></Extra><PageSize>1e300</PageSize></R>",
		"<R><EipAddresses/><X>&lt;&amp;&gt;]]&gt;</X></R>",
		"<名><x:y>1</x:y></名>",
	} {
		f.Add([]byte(seed))
	}
	s := schema(f, "Describe")
	f.Fuzz(func(t *testing.T, in []byte) {
		root, v, err := rpcxml.Decode(in, s, rpcxml.Options{MaxBytes: 1 << 16, MaxDepth: 32})
		if err != nil {
			return
		}
		data, err := rpcxml.Encode(root, v, s)
		if err != nil {
			var e *rpcxml.Error
			if errors.As(err, &e) && strings.Contains(e.Msg, "is not an XML element name") {
				return // Decode reads non-ASCII and prefixed names; Encode writes ASCII names only
			}
			t.Fatalf("Encode(Decode(%q)) = %v, want success", in, err)
		}
		root2, v2, err := rpcxml.Decode(data, s, rpcxml.Options{})
		if err != nil {
			t.Fatalf("Decode(Encode(Decode(%q))) = %v\nencoded: %s", in, err, data)
		}
		if root2 != root {
			t.Fatalf("Decode(Encode(Decode(%q))) root = %q, want %q", in, root2, root)
		}
		if diff := cmp.Diff(v, v2); diff != "" {
			t.Fatalf("Decode(Encode(Decode(%q))) mismatch (-first +second):\n%s\nencoded: %s", in, diff, data)
		}
	})
}

// Package spec is the machine-readable contract of Alibaba Cloud's RPC-style Elastic IP APIs
// and its oracle: given a request, what an endpoint must do with it.
//
// Typical usage:
//
//	s := spec.Default()
//	v := s.Evaluate(url.Values{
//		"Action": {"AllocateEipAddress"}, "Version": {"2016-04-28"},
//		"RegionId": {"cn-hangzhou"}, "Bandwidth": {"501"},
//	}, spec.Options{})
//	j := v.Judge(resp.StatusCode, errorCode, false)
//	if !j.OK {
//		t.Errorf("AllocateEipAddress Bandwidth=501: %s", j.Reason)
//	}
//
// # The document
//
// The contract is one OpenAPI 3.0 document, eip.yaml, embedded in the package and validated
// with kin-openapi (examples included) when it is loaded. It covers the eleven operations of
// the source documents (../shared/seeds/000..004): Vpc 2016-04-28 AllocateEipAddress,
// AssociateEipAddress, UnassociateEipAddress, ModifyEipAddressAttribute, DescribeEipAddresses,
// ReleaseEipAddress, DescribeEipGatewayInfo, DescribeEipMonitorData and
// OpenPublicIpAddressPoolService; VpcIpam 2023-02-28 OpenVpcIpamService; Ecs 2014-05-26
// AllocatePublicIpAddress.
//
// # How RPC actions map onto OpenAPI
//
// On the wire every request goes to "/" (GET with a query string, or POST with the same
// parameters as an application/x-www-form-urlencoded body) and is selected by its Action
// and Version parameters. OpenAPI keys operations by path, so each action is one "get"
// operation at the pseudo-path /{Product}/{Action}, with operationId equal to the action.
// Action is a parameter whose enum is the action itself and Version a parameter whose enum is
// the product's version, so the operation's parameter list is exactly what goes on the wire.
// x-product names the product (x-rpc.products gives its version and endpoint). The common
// parameters (Format and the signature parameters) are shared components referenced by every
// operation; x-rpc.commonParameters lists them. Repeated parameters are arrays with x-repeat:
// style list goes on the wire as Name.1..Name.N, style object-list as Name.N.Field. Success
// bodies are the 200 response's application/json schema, whose xml.name is the XML root
// element; errors are the shared Error response (RequestId, HostId, Code, Message,
// Recommend; XML root Error).
//
// # Extensions
//
// What OpenAPI cannot say is in typed x- extensions, decoded strictly (unknown fields are
// errors) into the types of this package:
//
//   - x-rpc (document): products, methods, formats, signature v1.0, protocol errors
//     (missing parameter, unknown action, bad version, signature mismatch, unknown key,
//     reused nonce, malformed or expired timestamp, ...), and document-level ambiguities.
//   - x-errors (operation): the error table, every row with its seed file; rows only the
//     current metadata lists carry source api-metadata.
//   - x-violation (parameter): the error its own schema constraints (required, type, enum,
//     range, length, pattern) map to, documented or inferred, with the seed and quote.
//   - x-variants (parameter) and variants (rule): what another document says instead.
//   - x-also-accept / also-accept: codes only the current metadata gives for a violation.
//   - x-not-prefix, x-time, x-repeat, x-auth, x-ambiguous (parameter).
//   - x-rules (operation): inter-parameter rules: conditions (when), one check (present,
//     absent, enum, range, length, pattern, not-prefix, time, exclusive, max-items,
//     max-points, order), an error, documented or inferred, the seed and the quote.
//   - x-state-rules (operation): preconditions on server state (unknown AllocationId, EIP
//     status, one EIP per instance, ...), which the oracle cannot judge from a request and
//     the stateful phase and the emulator judge against their model.
//   - x-changes (operation): the kinds of resource (Resources: eip, instance, eni, account)
//     an accepted request creates or changes, [] for read-only operations. It decides what
//     a run may send to a real endpoint and which cases can run beside the stateful phase.
//
// Every parameter's own constraints become rules too (IDs Name.required, Name.enum,
// Name.range, ...), so the oracle and the boundary cases treat all rules alike.
//
// # The oracle
//
// Evaluate answers Accept, Reject (with the acceptable errors: several rules may be broken
// and the endpoint may report any of them) or Either (ambiguous: success or one of the
// errors). A documented mapping must be matched exactly; an inferred one needs a 4xx unless
// strict. Cases enumerates, per rule, its boundary and off-by-one cases under every
// combination of its conditions.
//
// # Where the documents disagree
//
// The newest document decides what is expected; where another document (an older seed, or
// the current metadata in ../shared/reference/api-metadata) disagrees, the region between
// the two is ambiguous and the oracle accepts either outcome, saying why. Ambiguities lists
// them all; these are the ones recorded in the document (each is an Ambiguity ID):
//
//   - default-format: 004 gives JSON as the default Format in its table, XML in its prose.
//   - signature-example-versions: 004's signature walk-through signs other values (Version
//     2014-05-15, TimeStamp) than the request it shows.
//   - empty-optional-value: no seed says whether Name= is absent or invalid.
//   - describe-example-shape: 004's DescribeEipAddresses JSON sample is wrapped, quoted and
//     not a list, unlike its table.
//   - describe-description-spelling: Descritpion (table) vs Description (sample).
//   - gateway-ip-spelling: Ip (table) vs IP (samples) in DescribeEipGatewayInfo.
//   - allocate-example-fields: 002's sample carries PrePaid-only and PostPaid-only fields.
//   - error-status-conflicts: the same code with different statuses across 004's tables.
//   - monitor-sample-request: 004's DescribeEipMonitorData sample has StartTime after EndTime.
//   - samples-without-regionid: 004's samples omit RegionId its tables require; the metadata
//     makes it optional (rule variants on RegionId.required of five operations).
//
// and these come from variants and open rules (ID operation.rule[.variant|.codes]):
//
//   - AllocateEipAddress: InstanceChargeType.enum.variant (004 is PostPaid-only, 002 adds
//     PrePaid), InternetChargeType.enum.variant (004: PayByTraffic only), Netmode.enum.variant
//     (public vs Public), period-postpaid, prepaid-requires-pricingcycle and
//     prepaid-requires-autopay (both also have defaults), isp-single-line-whitelist (account
//     state), isp-finance-only-in-finance, and the metadata's extra codes for Bandwidth, Name,
//     Description and SecurityProtectionTypes (.codes).
//   - ModifyEipAddressAttribute: Name.length.variant (004: 2 to 128; 002 and the metadata:
//     1 to 128) and the metadata's Name and Description codes.
//   - DescribeEipAddresses: PageSize.range.variant (50 vs the metadata's 100),
//     Status.enum.variant (metadata adds Releasing), ChargeType.enum.variant (PrePaid),
//     AssociatedInstanceType.enum.variant (metadata adds NetworkInterface, IpAddress), and
//     Filter.Key.enum, Filter.max-items and filter-value-time (004 documents Filter.1 and
//     Filter.2 and their error codes but no key values or value format; those come from the
//     metadata only).
//   - DescribeEipMonitorData: Period.enum.variant (60/600/3600 vs 60/300/900/3600),
//     max-points.variant (the metadata truncates to 200 points instead of rejecting),
//     start-before-end (no seed says what a reversed range does).
//   - AssociateEipAddress and UnassociateEipAddress: InstanceType.enum.variant and
//     Mode.enum.variant (metadata adds HaVip, IpAddress, NetworkInterface, BINDED);
//     UnassociateEipAddress InstanceId.required.variant (the metadata makes it optional).
//   - Every operation: Format (lower-case xml in 004's own example; no seed says whether an
//     unsupported Format is rejected), booleans in other cases than true/false, and
//     not-prefix checks in other cases than http:// and https://.
package spec

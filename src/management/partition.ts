// A region's DNS suffixes, as the SDK's endpoint rules resolve them (@aws-sdk/core/client's
// partition()): the region's partition by name or pattern, else the aws partition. A table of our
// own because importing partition() evaluates the whole of @aws-sdk/core/client (user agent,
// protocols, @smithy/core), which cost a cold function ~14 ms of init here (bench/README.md,
// "Cold start"). test/framework/unit/endpoint.test.ts checks every region of the installed SDK's
// own table, and each partition's pattern, against this one, so an SDK update that adds a
// partition fails the test rather than sending requests to the wrong suffix.

export interface PartitionSuffixes {
  name: string;
  dnsSuffix: string;
  dualStackDnsSuffix: string;
}

const partitions: Array<PartitionSuffixes & { pattern: RegExp }> = [
  { name: 'aws', pattern: /^(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+$/, dnsSuffix: 'amazonaws.com', dualStackDnsSuffix: 'api.aws' },
  { name: 'aws-cn', pattern: /^cn-\w+-\d+$/, dnsSuffix: 'amazonaws.com.cn', dualStackDnsSuffix: 'api.amazonwebservices.com.cn' },
  { name: 'aws-eusc', pattern: /^eusc-(de)-\w+-\d+$/, dnsSuffix: 'amazonaws.eu', dualStackDnsSuffix: 'api.amazonwebservices.eu' },
  { name: 'aws-iso', pattern: /^us-iso-\w+-\d+$/, dnsSuffix: 'c2s.ic.gov', dualStackDnsSuffix: 'api.aws.ic.gov' },
  { name: 'aws-iso-b', pattern: /^us-isob-\w+-\d+$/, dnsSuffix: 'sc2s.sgov.gov', dualStackDnsSuffix: 'api.aws.scloud' },
  { name: 'aws-iso-e', pattern: /^eu-isoe-\w+-\d+$/, dnsSuffix: 'cloud.adc-e.uk', dualStackDnsSuffix: 'api.cloud-aws.adc-e.uk' },
  { name: 'aws-iso-f', pattern: /^us-isof-\w+-\d+$/, dnsSuffix: 'csp.hci.ic.gov', dualStackDnsSuffix: 'api.aws.hci.ic.gov' },
  { name: 'aws-us-gov', pattern: /^us-gov-\w+-\d+$/, dnsSuffix: 'amazonaws.com', dualStackDnsSuffix: 'api.aws' },
];

// The SDK's regions whose name a pattern does not place ("aws-global" and the like).
const globalRegions: Record<string, string> = {
  'aws-global': 'aws',
  'aws-cn-global': 'aws-cn',
  'aws-iso-global': 'aws-iso',
  'aws-iso-b-global': 'aws-iso-b',
  'aws-iso-e-global': 'aws-iso-e',
  'aws-iso-f-global': 'aws-iso-f',
  'aws-us-gov-global': 'aws-us-gov',
};

/** The partition's name and DNS suffixes for a region. */
export const partitionOf = (region: string): PartitionSuffixes => {
  const named = globalRegions[region];
  const found = named !== undefined ? partitions.find((p) => p.name === named) : partitions.find((p) => p.pattern.test(region));
  const { name, dnsSuffix, dualStackDnsSuffix } = found ?? partitions[0]!;
  return { name, dnsSuffix, dualStackDnsSuffix };
};

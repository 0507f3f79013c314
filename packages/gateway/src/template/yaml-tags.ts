// CloudFormation's short-form intrinsics as YAML tags (the yaml package's custom tags).
import type { CollectionTag, ScalarTag, YAMLMap, YAMLSeq } from 'yaml';

// CloudFormation's short-form intrinsics are YAML tags; each becomes its long JSON form
// ({ Ref: x }, { 'Fn::GetAtt': [a, b] }) so the rest of the code sees what CloudFormation sees.
const intrinsicNames = [
  'Ref',
  'Condition',
  'GetAtt',
  'Sub',
  'Join',
  'Select',
  'Split',
  'If',
  'Equals',
  'Not',
  'And',
  'Or',
  'FindInMap',
  'Base64',
  'Cidr',
  'GetAZs',
  'ImportValue',
  'Transform',
  'ToJsonString',
  'Length',
];

const longForm = (name: string): string => (name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`);

/** The yaml (v2) custom tags for CloudFormation's short forms, scalar, sequence and mapping. */
export const cfnTags: Array<ScalarTag | CollectionTag> = intrinsicNames.flatMap((name) => {
  const key = longForm(name);
  const scalar: ScalarTag = {
    tag: `!${name}`,
    // `!GetAtt A.B` splits at the first dot only (attribute names may contain dots).
    resolve: (text: string) => {
      if (name !== 'GetAtt') return { [key]: text };
      const dot = text.indexOf('.');
      return { [key]: dot < 0 ? [text] : [text.slice(0, dot), text.slice(dot + 1)] };
    },
  };
  const collection = (kind: 'seq' | 'map'): CollectionTag =>
    ({
      tag: `!${name}`,
      collection: kind,
      resolve: (node: YAMLMap.Parsed | YAMLSeq.Parsed) => ({ [key]: node.toJSON() }),
    }) as CollectionTag;
  return [scalar, collection('seq'), collection('map')];
});

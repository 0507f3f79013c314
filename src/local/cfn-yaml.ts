// Parses a CloudFormation/SAM template. CloudFormation's short-form intrinsics (`!Ref`, `!GetAtt`,
// `!Sub`…) are YAML tags that a plain YAML parser rejects, so each becomes the long form
// (`{ Ref: x }`, `{ 'Fn::GetAtt': [a, b] }`) that the resolver understands.
import { readFileSync } from 'node:fs';
import { parse, type ScalarTag, type CollectionTag } from 'yaml';

const intrinsics = ['Ref', 'GetAtt', 'Sub', 'Join', 'Select', 'Split', 'If', 'Equals', 'Not', 'And', 'Or',
  'FindInMap', 'Base64', 'Cidr', 'GetAZs', 'ImportValue', 'Condition', 'Transform'];

const longName = (name: string): string => (name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`);

const tagsFor = (name: string): Array<ScalarTag | CollectionTag> => {
  const key = longName(name);
  const scalar: ScalarTag = {
    tag: `!${name}`,
    resolve: (value: string) => ({ [key]: name === 'GetAtt' ? value.split('.') : value }),
  };
  const seq: CollectionTag = {
    tag: `!${name}`, collection: 'seq',
    resolve: (value: any) => ({ [key]: value.toJSON() }),
  } as CollectionTag;
  const map: CollectionTag = {
    tag: `!${name}`, collection: 'map',
    resolve: (value: any) => ({ [key]: value.toJSON() }),
  } as CollectionTag;
  return [scalar, seq, map];
};

const customTags = intrinsics.flatMap(tagsFor);

export const parseCfnYaml = (text: string): any => parse(text, { customTags });

export const readCfnTemplate = (path: string): any => {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`Cannot read the template ${path}: ${(error as Error).message}`);
  }
  const template = parseCfnYaml(text);
  if (template === null || typeof template !== 'object' || typeof template.Resources !== 'object') {
    throw new Error(`${path} is not a CloudFormation template: it has no Resources section`);
  }
  return template;
};

// The registry of contenders, by the names the harness and its table use.
import { createNaive } from './naive.ts';
import { createOutbox } from './outbox.ts';
import { createRaw } from './raw.ts';
import { createSequential } from './sequential.ts';
import { createSignedOnly } from './signed.ts';
import type { Contender, ContenderOptions } from './types.ts';

export const contenders = {
  naive: createNaive,
  sequential: createSequential,
  raw: createRaw,
  'signed-transport': createSignedOnly,
  'outbox-sdk': createOutbox('sdk'),
  'outbox-signed': createOutbox('signed'),
} satisfies Record<string, (o: ContenderOptions) => Contender | Promise<Contender>>;

export type ContenderName = keyof typeof contenders;

// The registry of contenders, by the names the harness and its table use.
import { createNaive } from './naive.ts';
import { createOutbox } from './outbox.ts';
import { createRaw } from './raw.ts';
import { createRawSocket } from './raw-socket.ts';
import { createSequential } from './sequential.ts';
import { createTransportOnly } from './transport-only.ts';
import type { Contender, ContenderOptions } from './types.ts';

export const contenders = {
  naive: createNaive,
  sequential: createSequential,
  raw: createRaw,
  'raw-socket': createRawSocket,
  'sdk-transport': createTransportOnly('sdk'),
  'signed-transport': createTransportOnly('signed'),
  'outbox-sdk': createOutbox('sdk'),
  'outbox-signed': createOutbox('signed'),
} satisfies Record<string, (o: ContenderOptions) => Contender | Promise<Contender>>;

export type ContenderName = keyof typeof contenders;

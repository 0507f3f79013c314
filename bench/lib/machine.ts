// What the results were measured on, stored with them.
import os from 'node:os';

export const machine = () => ({
  node: process.version,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.cpus().length,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  platform: `${os.platform()} ${os.release()}`,
  date: new Date().toISOString(),
});

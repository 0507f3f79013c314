// Removes the run's temp folder (see temp-dir.setup.mjs), even when tests failed.
import { rmSync } from 'node:fs';

export default () => {
  const dir = process.env.WS_OUTBOX_TEST_TMP;
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (process.env.WS_OUTBOX_TEST_TMP_PARENT_TMPDIR) process.env.TMPDIR = process.env.WS_OUTBOX_TEST_TMP_PARENT_TMPDIR;
  else delete process.env.TMPDIR;
};

// Every temp folder a test run makes (gateway bundles, deploy fixtures, CLI runs, and whatever the
// child processes they start write) goes under one folder per run, removed when the run ends: Jest
// starts its workers after this, and os.tmpdir() in them, and in their children, follows TMPDIR.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default () => {
  process.env.WS_OUTBOX_TEST_TMP = mkdtempSync(join(tmpdir(), 'ws-outbox-test-'));
  process.env.WS_OUTBOX_TEST_TMP_PARENT_TMPDIR = process.env.TMPDIR ?? '';
  process.env.TMPDIR = process.env.WS_OUTBOX_TEST_TMP;
};

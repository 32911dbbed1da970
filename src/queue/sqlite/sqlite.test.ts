import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeContract } from '../store.contract.js';
import { openSqliteStore } from './index.js';

// A real SQLite file per test (not :memory:), opened twice to act as two processes.
storeContract('sqlite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sendwell-store-'));
  return { open: () => openSqliteStore(dir), reopen: () => openSqliteStore(dir) };
});

/** Shared by the transport tests: run a transport and close it; match a SendwellError by code. */
import assert from 'node:assert/strict';
import { SendwellError } from '../../src/errors.js';
import { createTransport, type RelayOptions } from '../../src/transport/index.js';
import type { Transport } from '../../src/transport/types.js';

export async function withTransport<T>(options: RelayOptions, fn: (t: Transport) => Promise<T>): Promise<T> {
  const t = createTransport(options);
  try {
    return await fn(t);
  } finally {
    await t.close();
  }
}

/** For assert.rejects/throws: a SendwellError with this code, then extra checks. */
export function isError(code: string, check: (e: SendwellError) => void = () => undefined) {
  return (e: unknown) => {
    assert.ok(e instanceof SendwellError, `not a SendwellError: ${String(e)}`);
    assert.equal(e.code, code, `${e.code}: ${e.message}`);
    check(e);
    return true;
  };
}

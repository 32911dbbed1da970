/** `sendwell doctor`: one line of the checklist. */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface Check {
  /** Stable id, e.g. `config`, `relay.tls`, `dns.spf`. */
  id: string;
  status: CheckStatus;
  title: string;
  /** What was found (the reason). */
  detail: string;
  /** What to do about it ('' when nothing). */
  fix: string;
  /** The guide rule that applies, when one does. */
  rule?: string;
}

export function check(id: string, status: CheckStatus, title: string, detail: string, fix = '', rule?: string): Check {
  return { id, status, title, detail, fix, ...(rule ? { rule } : {}) };
}

/** The bare address of `Jane <jane@example.org>` or `jane@example.org`. */
export function bareAddress(a: string | undefined): string | undefined {
  if (!a) return undefined;
  const m = /<([^<>]*)>\s*$/.exec(a);
  return (m ? m[1]! : a).trim() || undefined;
}

export function domainOf(address: string | undefined): string | undefined {
  if (!address) return undefined;
  const at = address.lastIndexOf('@');
  return at > 0 ? address.slice(at + 1).toLowerCase() : undefined;
}

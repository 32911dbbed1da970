/**
 * The sender domain in DNS: MX or A (bounces can arrive), SPF (and whether the
 * outbound addresses are authorised), DMARC. The resolver is injectable; any
 * resolver failure that is not a plain "no such record" is a skip, never a crash.
 */
import net from 'node:net';
import { check, type Check } from './types.js';

/** The part of node:dns/promises `Resolver` the doctor uses. */
export interface DnsResolver {
  resolveMx(name: string): Promise<Array<{ exchange: string; priority: number }>>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  resolveTxt(name: string): Promise<string[][]>;
}

export async function defaultResolver(): Promise<DnsResolver> {
  const { Resolver } = await import('node:dns/promises');
  return new Resolver({ timeout: 5000, tries: 2 });
}

/** "No such record" answers; everything else means we could not ask. */
const MISSING = new Set(['ENODATA']);

class NoDns extends Error {}

/** Once DNS is found unreachable, the remaining lookups are not tried (each would wait for its time-out). */
interface Lookups {
  down?: string;
}

async function lookup<T>(state: Lookups, fn: () => Promise<T[]>): Promise<T[]> {
  if (state.down) throw new NoDns(state.down);
  try {
    return await fn();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (MISSING.has(code)) return [];
    if (['ECONNREFUSED', 'ETIMEOUT', 'ETIMEDOUT', 'ECANCELLED'].includes(code)) state.down = code;
    throw new NoDns(code || (err as Error).message);
  }
}

const noDns = (id: string, title: string, err: unknown): Check => {
  if (!(err instanceof NoDns)) throw err;
  return check(id, 'skip', title, `could not check (no DNS: ${err.message})`, 'run sendwell doctor where DNS works, or check the records with dig');
};

/** Is the IPv4 address inside `cidr` (a.b.c.d or a.b.c.d/n)? */
export function ip4InRange(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  if (!base || net.isIPv4(base) === false || !net.isIPv4(ip)) return false;
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  if (!Number.isInteger(bits) || bits < 0 || bits > 32) return false;
  const n = (a: string) => a.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return ((n(ip) & mask) >>> 0) === ((n(base) & mask) >>> 0);
}

export interface SpfRecord {
  text: string;
  ip4: string[];
  ip6: string[];
  /** include:, a, mx, exists:, redirect= — authorise addresses we do not follow. */
  indirect: string[];
  all?: string;
}

export function parseSpf(text: string): SpfRecord {
  const out: SpfRecord = { text, ip4: [], ip6: [], indirect: [] };
  for (const term of text.split(/\s+/).slice(1)) {
    const t = term.replace(/^[+?~-]/, '');
    const lower = t.toLowerCase();
    if (lower.startsWith('ip4:')) out.ip4.push(t.slice(4));
    else if (lower.startsWith('ip6:')) out.ip6.push(t.slice(4));
    else if (/^(include:|a\b|a:|a\/|mx\b|mx:|mx\/|exists:|redirect=|ptr)/.test(lower)) out.indirect.push(t);
    else if (lower === 'all') out.all = term;
  }
  return out;
}

export interface DnsCheckOptions {
  /** The domain of the envelope sender (where bounces go). */
  domain: string;
  /** Addresses receivers see our mail come from (the doctor's --outbound-ip). */
  outboundIps?: string[];
  /** [dkim]: the selector record must publish our key. */
  dkim?: { domain: string; selector: string; publicKey: string; fromDomain?: string };
}

/** The p= value of a DKIM key record, or null when it is none. */
export function dkimRecordKey(txt: string): string | null {
  if (!/(^|;)\s*p\s*=/.test(txt)) return null;
  return /(?:^|;)\s*p\s*=\s*([A-Za-z0-9+/=\s]*)/.exec(txt)?.[1]?.replace(/\s+/g, '') ?? '';
}

export async function dnsChecks(resolver: DnsResolver, o: DnsCheckOptions): Promise<Check[]> {
  const { domain } = o;
  const out: Check[] = [];
  const st: Lookups = {};
  // MX or A: can bounces reach the envelope sender's domain?
  const mxTitle = `MX or A record for ${domain}`;
  try {
    const mx = await lookup(st, () => resolver.resolveMx(domain));
    if (mx.length) {
      const hosts = mx.sort((a, b) => a.priority - b.priority).map((m) => `${m.exchange} (${m.priority})`);
      out.push(check('dns.mx', 'ok', mxTitle, `MX ${hosts.join(', ')}`, '', 'R2'));
    } else {
      const a = [...(await lookup(st, () => resolver.resolve4(domain))), ...(await lookup(st, () => resolver.resolve6(domain)))];
      if (a.length) out.push(check('dns.mx', 'ok', mxTitle, `no MX, but an address record (${a.join(', ')}): mail goes there`, 'add an MX record for clarity', 'R2'));
      else out.push(check('dns.mx', 'fail', mxTitle, `no MX and no A/AAAA record: bounces to the envelope sender cannot arrive`, `add an MX record for ${domain} pointing at the server that receives its mail (or use an envelope sender in a domain that has one)`, 'R2'));
    }
  } catch (err) {
    out.push(noDns('dns.mx', mxTitle, err));
  }
  // SPF
  const spfTitle = `SPF record for ${domain}`;
  try {
    const txt = (await lookup(st, () => resolver.resolveTxt(domain))).map((chunks) => chunks.join(''));
    const spfs = txt.filter((t) => /^v=spf1(\s|$)/i.test(t));
    if (spfs.length === 0) {
      out.push(check('dns.spf', 'warn', spfTitle, 'no SPF record (v=spf1): receivers may treat the mail as suspicious', `publish a TXT record for ${domain}, e.g. "v=spf1 ip4:192.0.2.10 -all" with the addresses your mail leaves from`));
    } else if (spfs.length > 1) {
      out.push(check('dns.spf', 'fail', spfTitle, `${spfs.length} SPF records: RFC 7208 makes that a permanent error`, 'merge them into one v=spf1 record'));
    } else {
      const spf = parseSpf(spfs[0]!);
      const mech = [spf.ip4.length ? `ip4: ${spf.ip4.join(', ')}` : '', spf.ip6.length ? `ip6: ${spf.ip6.join(', ')}` : '', spf.indirect.length ? `also ${spf.indirect.join(' ')}` : ''].filter(Boolean).join('; ');
      const detail = `"${spf.text}"${mech ? ` (${mech})` : ''}`;
      const ips = o.outboundIps ?? [];
      if (ips.length === 0) {
        out.push(check('dns.spf', 'ok', spfTitle, detail, ''));
      } else {
        const missing = ips.filter((ip) => !spf.ip4.some((c) => ip4InRange(ip, c)) && !spf.ip6.some((c) => c.split('/')[0]?.toLowerCase() === ip.toLowerCase()));
        if (missing.length === 0) out.push(check('dns.spf', 'ok', spfTitle, `${detail}; authorises ${ips.join(', ')}`));
        else if (spf.indirect.length) out.push(check('dns.spf', 'warn', spfTitle, `${detail}; ${missing.join(', ')} not listed directly (may be authorised through ${spf.indirect.join(' ')}, which doctor does not follow)`, `check with an SPF tool, or add ip4:${missing[0]} to the record`));
        else out.push(check('dns.spf', 'fail', spfTitle, `${detail}; does not authorise ${missing.join(', ')}`, `add ${missing.map((ip) => (net.isIPv6(ip) ? `ip6:${ip}` : `ip4:${ip}`)).join(' ')} to the SPF record of ${domain}`));
      }
    }
  } catch (err) {
    out.push(noDns('dns.spf', spfTitle, err));
  }
  out.push(await dkimCheck(resolver, st, o.dkim));
  // DMARC
  const dmarcTitle = `DMARC policy for ${domain}`;
  try {
    const txt = (await lookup(st, () => resolver.resolveTxt(`_dmarc.${domain}`))).map((c) => c.join(''));
    const dmarc = txt.find((t) => /^v=DMARC1\s*(;|$)/i.test(t));
    if (!dmarc) {
      out.push(check('dns.dmarc', 'warn', dmarcTitle, `no DMARC record at _dmarc.${domain}`, `publish one, e.g. _dmarc.${domain} TXT "v=DMARC1; p=none; rua=mailto:dmarc@${domain}", and tighten p= once SPF/DKIM pass`));
    } else {
      const p = /(?:^|;)\s*p\s*=\s*(\w+)/i.exec(dmarc)?.[1]?.toLowerCase() ?? '(none given)';
      out.push(check('dns.dmarc', 'ok', dmarcTitle, `p=${p}: "${dmarc}"`, p === 'reject' || p === 'quarantine' ? 'mail must pass SPF or DKIM aligned with the From domain, or it is ' + (p === 'reject' ? 'refused' : 'put in spam') : ''));
    }
  } catch (err) {
    out.push(noDns('dns.dmarc', dmarcTitle, err));
  }
  return out;
}

async function dkimCheck(resolver: DnsResolver, st: Lookups, dkim: DnsCheckOptions['dkim']): Promise<Check> {
  if (!dkim) return check('dns.dkim', 'skip', 'DKIM', 'no [dkim] configured: sendwell does not sign (the relay may); list mail needs a signature for one-click unsubscribe (RFC 8058)', '', 'R1');
  const name = `${dkim.selector}._domainkey.${dkim.domain}`;
  const title = `DKIM key record ${name}`;
  try {
    const txt = (await lookup(st, () => resolver.resolveTxt(name))).map((c) => c.join(''));
    const keys = txt.map(dkimRecordKey).filter((k): k is string => k !== null);
    const publish = `publish ${name} TXT "v=DKIM1; k=rsa; p=${dkim.publicKey}"`;
    if (keys.length === 0) return check('dns.dkim', 'fail', title, 'no DKIM key record: receivers cannot verify the signatures', publish);
    if (keys.length > 1) return check('dns.dkim', 'fail', title, `${keys.length} key records: verification is undefined`, `keep one: ${publish}`);
    if (keys[0] === '') return check('dns.dkim', 'fail', title, 'the key is revoked (empty p=)', `${publish}, or choose another selector`);
    if (keys[0] !== dkim.publicKey) return check('dns.dkim', 'fail', title, 'the published key is not the public half of [dkim] private_key_file: signatures will fail', publish);
    // DMARC needs d= aligned with the From domain (relaxed: the same organisational domain).
    const f = dkim.fromDomain;
    if (f && f !== dkim.domain && !f.endsWith(`.${dkim.domain}`) && !dkim.domain.endsWith(`.${f}`)) {
      return check('dns.dkim', 'warn', title, `key published, but d=${dkim.domain} is not aligned with the From domain ${f}: DMARC does not count the signature`, `sign with a key of ${f} (dkim.domain = "${f}")`);
    }
    return check('dns.dkim', 'ok', title, `publishes the key of [dkim] private_key_file (d=${dkim.domain}, s=${dkim.selector})`);
  } catch (err) {
    return noDns('dns.dkim', title, err);
  }
}

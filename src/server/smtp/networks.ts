/**
 * Client networks of the SMTP listener: which addresses may relay without AUTH
 * (`smtp.allow_networks`) and which may log in without TLS. CIDR lists for IPv4
 * and IPv6; an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, what a dual-stack
 * socket reports) matches its IPv4 networks.
 */
import net from 'node:net';
import { SendwellError } from '../../errors.js';

/** Loopback addresses a local client actually uses; AUTH without TLS is allowed only from these by default. */
export const LOCAL_AUTH_NETWORKS: readonly string[] = ['127.0.0.1/32', '::1/128'];
/** The listener's default `allow_networks`: loopback only. */
export const DEFAULT_ALLOW_NETWORKS: readonly string[] = ['127.0.0.1/32', '::1/128'];

/** `::ffff:1.2.3.4` and `::ffff:102:304` as `1.2.3.4`; other addresses lower-cased, zone removed. */
export function normalizeIp(address: string): string {
  let a = address.trim().toLowerCase();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  const dotted = /^(?:0{0,4}:){0,5}:?ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(a);
  if (dotted && net.isIPv4(dotted[1]!)) return dotted[1]!;
  const hex = /^(?:0{0,4}:){0,5}:?ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(a);
  if (hex && net.isIPv6(a)) {
    const hi = parseInt(hex[1]!, 16);
    const lo = parseInt(hex[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return a;
}

export interface NetworkList {
  /** The networks as configured. */
  readonly networks: readonly string[];
  contains(address: string): boolean;
}

/** Parse CIDRs (`10.0.0.0/8`, `::1/128`, or a single address); throws ECONFIG naming the bad entry. */
export function networkList(cidrs: readonly string[], setting = 'smtp.allow_networks'): NetworkList {
  const list = new net.BlockList();
  for (const raw of cidrs) {
    const entry = raw.trim();
    const slash = entry.indexOf('/');
    const addr = normalizeIp(slash < 0 ? entry : entry.slice(0, slash));
    const family = net.isIPv4(addr) ? 'ipv4' : net.isIPv6(addr) ? 'ipv6' : undefined;
    const max = family === 'ipv4' ? 32 : 128;
    const prefix = slash < 0 ? max : /^\d{1,3}$/.test(entry.slice(slash + 1)) ? Number(entry.slice(slash + 1)) : NaN;
    if (!family || !(prefix >= 0 && prefix <= max)) {
      throw new SendwellError('ECONFIG', `${setting}: ${JSON.stringify(raw)} is not a network`, {
        hint: 'write networks in CIDR form, e.g. "127.0.0.1/32", "192.0.2.0/24" or "::1/128"',
      });
    }
    list.addSubnet(addr, prefix, family);
  }
  return {
    networks: [...cidrs],
    contains(address: string): boolean {
      const a = normalizeIp(address);
      if (net.isIPv4(a)) return list.check(a, 'ipv4');
      if (net.isIPv6(a)) return list.check(a, 'ipv6');
      return false;
    },
  };
}

/** The address as a Received/log literal: `127.0.0.1`, `IPv6:::1`. */
export function addressLiteral(address: string): string {
  const a = normalizeIp(address);
  return net.isIPv6(a) ? `IPv6:${a}` : a;
}

/**
 * The visitor's address for rate limits and consent proof. X-Forwarded-For is
 * believed only from `http.trusted_proxies`: anyone can send that header, and
 * behind a proxy every visitor would otherwise look like the proxy.
 */
import type { IncomingMessage } from 'node:http';
import { isIPv6 } from 'node:net';
import { networkList, normalizeIp, type NetworkList } from '../smtp/networks.js';

export type ClientIpResolver = (req: IncomingMessage) => string;

export function clientIpResolver(trustedProxies: readonly string[]): ClientIpResolver {
  const trusted: NetworkList | null = trustedProxies.length ? networkList(trustedProxies, 'http.trusted_proxies') : null;
  return (req) => {
    let ip = normalizeIp(req.socket.remoteAddress ?? '');
    if (!trusted) return ip;
    const header = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(header) ? header.join(',') : (header ?? ''))
      .split(',')
      .map((h) => h.trim())
      .filter(Boolean);
    // Walk from the nearest hop: the first address not a trusted proxy is the client.
    while (trusted.contains(ip) && hops.length) ip = normalizeIp(hops.pop()!);
    return ip;
  };
}

/**
 * The key rate limits count a visitor under: an IPv4 address, or an IPv6
 * address's /64. A host on IPv6 usually gets a whole /64 and can take a new
 * address for every request, so counting single addresses limits nobody.
 */
export function rateKeyOf(ip: string): string {
  if (!isIPv6(ip)) return ip;
  // An embedded IPv4 tail is two groups.
  const v6 = ip.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a, b, c, d) => `${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`);
  const [head, tail] = v6.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

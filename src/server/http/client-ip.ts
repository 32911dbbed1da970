/**
 * The visitor's address for rate limits and consent proof. X-Forwarded-For is
 * believed only from `http.trusted_proxies`: anyone can send that header, and
 * behind a proxy every visitor would otherwise look like the proxy.
 */
import type { IncomingMessage } from 'node:http';
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

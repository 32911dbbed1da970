/**
 * A tiny router: `METHOD /path/:param` patterns, exact segment matches.
 * 404 when no path matches, 405 (with the allowed methods) when the path
 * matches under another method.
 */

export interface Route<H> {
  method: string;
  path: string;
  handler: H;
  segments: string[];
}

export type Match<H> = { kind: 'found'; route: Route<H>; params: Record<string, string> } | { kind: 'method'; allow: string[] } | { kind: 'none' };

export class Router<H> {
  readonly routes: Array<Route<H>> = [];

  on(method: string, path: string, handler: H): this {
    if (!path.startsWith('/')) throw new Error(`route path ${path} must start with /`);
    this.routes.push({ method: method.toUpperCase(), path, handler, segments: path.split('/').slice(1) });
    return this;
  }

  match(method: string, pathname: string): Match<H> {
    const parts = pathname.split('/').slice(1);
    const allow = new Set<string>();
    for (const route of this.routes) {
      const params = matchSegments(route.segments, parts);
      if (!params) continue;
      if (route.method === method) return { kind: 'found', route, params };
      allow.add(route.method);
    }
    return allow.size ? { kind: 'method', allow: [...allow].sort() } : { kind: 'none' };
  }
}

function matchSegments(pattern: string[], parts: string[]): Record<string, string> | null {
  if (pattern.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const v = parts[i]!;
    if (p.startsWith(':')) {
      if (v === '') return null;
      let decoded: string;
      try {
        decoded = decodeURIComponent(v);
      } catch {
        return null;
      }
      params[p.slice(1)] = decoded;
    } else if (p !== v) {
      return null;
    }
  }
  return params;
}

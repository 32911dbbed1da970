/**
 * The few public HTML pages (confirm, unsubscribe, form answers): plain HTML,
 * no scripts, no cookies, no third-party resources.
 */

export const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Security headers of every public page: nothing may be framed, scripted or sniffed. */
export const PAGE_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

/** A page: `title` and `bodyHtml` (already escaped by the caller). */
export function page(title: string, bodyHtml: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;line-height:1.5}button{font-size:1rem;padding:.5rem 1.2rem}</style>
</head><body><h1>${escapeHtml(title)}</h1>
${bodyHtml}
</body></html>
`;
}

/** A page with one button that POSTs to `action` ('' = this URL; the only way to act: link scanners GET). */
export function buttonPage(title: string, textHtml: string, action: string, button: string, hidden: Record<string, string> = {}): string {
  const inputs = Object.entries(hidden)
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join('');
  return page(title, `${textHtml}\n<form method="post"${action ? ` action="${escapeHtml(action)}"` : ''}>${inputs}<button type="submit">${escapeHtml(button)}</button></form>`);
}

/**
 * The form's browser side: a small script served by sendwell itself
 * (`GET /forms/{name}/widget.js`, no third-party code) and the plain-HTML
 * example form (`GET /forms/{name}`). The script fetches the signed time
 * token and the ALTCHA-compatible challenge, solves it with WebCrypto while
 * the visitor types, and lets the form post as ordinary HTML.
 */
import { escapeHtml } from '../server/http/page.js';
import type { FormSettings } from './settings.js';

export const WIDGET_JS = `/* sendwell form widget: time token + proof of work (ALTCHA v1, SHA-256). No cookies, no third parties. */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || !script.src) return;
  var base = script.src.replace(/\\/widget\\.js(?:[?#].*)?$/, '');
  function hex(buf) {
    var b = new Uint8Array(buf), s = '';
    for (var i = 0; i < b.length; i++) s += (b[i] < 16 ? '0' : '') + b[i].toString(16);
    return s;
  }
  // Hash in batches: one await per number is slow in every browser.
  async function solve(c) {
    var enc = new TextEncoder();
    for (var start = 0; start <= c.maxnumber; start += 500) {
      var jobs = [];
      for (var n = start; n < start + 500 && n <= c.maxnumber; n++) jobs.push(crypto.subtle.digest('SHA-256', enc.encode(c.salt + n)));
      var done = await Promise.all(jobs);
      for (var i = 0; i < done.length; i++) if (hex(done[i]) === c.challenge) return start + i;
    }
    return null;
  }
  function hidden(form, name) {
    var el = form.querySelector('input[name="' + name + '"]');
    if (!el) {
      el = document.createElement('input');
      el.type = 'hidden';
      el.name = name;
      form.appendChild(el);
    }
    return el;
  }
  function prepare(form) {
    var token = hidden(form, '_token'), altcha = hidden(form, 'altcha');
    token.value = '';
    altcha.value = '';
    if (!window.crypto || !crypto.subtle) return Promise.reject(new Error('this page must be served over https'));
    return fetch(base + '/challenge', { credentials: 'omit', cache: 'no-store' })
      .then(function (r) {
        if (!r.ok) throw new Error('the form server answered ' + r.status);
        return r.json();
      })
      .then(function (c) {
        token.value = c.token;
        if (!c.challenge) return;
        var t0 = Date.now();
        return solve(c).then(function (n) {
          if (n === null) throw new Error('the challenge could not be solved');
          altcha.value = btoa(JSON.stringify({ algorithm: c.algorithm, challenge: c.challenge, number: n, salt: c.salt, signature: c.signature, took: Date.now() - t0 }));
        });
      });
  }
  function setup(form) {
    var status = form.querySelector('[data-sendwell-status]');
    var say = function (t) { if (status) status.textContent = t; };
    var ready = prepare(form);
    ready.catch(function () {});
    var sending = false, go = false;
    form.addEventListener('submit', function (e) {
      if (go) return;
      e.preventDefault();
      if (sending) return;
      sending = true;
      say('Sending…');
      ready.then(
        function () { go = true; form.submit(); },
        function (err) { sending = false; say('The form could not be prepared (' + err.message + '). Please reload the page.'); }
      );
    });
    // Back/forward cache: the old token may be spent; get a fresh one.
    window.addEventListener('pageshow', function (e) {
      if (e.persisted) { go = false; sending = false; say(''); ready = prepare(form); ready.catch(function () {}); }
    });
  }
  var forms = document.querySelectorAll('form');
  for (var i = 0; i < forms.length; i++) if (forms[i].action.replace(/[?#].*$/, '') === base) setup(forms[i]);
})();
`;

/** The example form's own headers: its script and its fetch come from this server only. */
export const FORM_PAGE_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  // Not no-referrer: with it browsers send "Origin: null" on POST, and the origin signal is lost.
  'Referrer-Policy': 'strict-origin-when-cross-origin',
  'X-Frame-Options': 'DENY',
};

/** The embeddable HTML of a form (fields, hidden honeypot, status line, script). */
export function formHtml(s: FormSettings, base: string): string {
  const action = `${base}/forms/${encodeURIComponent(s.name)}`;
  const inputs = s.fields
    .map((f) => {
      const attrs = `name="${f.name}" id="sw-${f.name}" maxlength="${f.maxLength}"${f.required ? ' required' : ''}`;
      const label = f.name.charAt(0).toUpperCase() + f.name.slice(1).replace(/_/g, ' ');
      const control = f.type === 'textarea' ? `<textarea ${attrs} rows="8"></textarea>` : `<input type="${f.type === 'email' ? 'email' : 'text'}" ${attrs}${f.type === 'email' ? ' autocomplete="email"' : ''}>`;
      return `  <p><label for="sw-${f.name}">${escapeHtml(label)}</label><br>\n  ${control}</p>`;
    })
    .join('\n');
  const honeypot = s.honeypot
    ? `\n  <!-- Left empty by people; bots fill it in. -->\n  <div style="position:absolute;left:-10000px" aria-hidden="true"><label>Leave this empty <input type="text" name="${s.honeypot}" tabindex="-1" autocomplete="off"></label></div>`
    : '';
  return `<form method="post" action="${escapeHtml(action)}">
${inputs}${honeypot}
  <p><button type="submit">Send</button> <span data-sendwell-status role="status"></span></p>
  <noscript><p>This form needs JavaScript: it proves to the server that you are not a bot, without cookies or third parties.</p></noscript>
</form>
<script src="${escapeHtml(action)}/widget.js" defer></script>`;
}

export function formPage(s: FormSettings, base: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>${escapeHtml(s.title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;line-height:1.5}input,textarea{width:100%;font:inherit}button{font-size:1rem;padding:.5rem 1.2rem}</style>
</head><body><h1>${escapeHtml(s.title)}</h1>
${formHtml(s, base)}
</body></html>
`;
}

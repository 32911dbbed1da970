/**
 * Web forms through a real browser: Debian's Chromium driven by
 * playwright-core (.ci/setup-browser.sh installs both). A person-paced run
 * (fields typed with delays, the page's own script fetching the token and
 * solving the proof of work) must get every submission through with the
 * default protections; then the receipt flow end to end: submit, the
 * confirmation mail at the in-process SMTP sink, open the link (a button),
 * press it, the receipt arrives and carries nothing the visitor typed.
 *
 * All submissions come from 127.0.0.1, so they share the per-IP limit: the
 * default (10 an hour) covers the 6 made here. Each uses its own address
 * (per_address_per_day = 3).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { startForms, type FormsHarness } from '../helpers/forms.js';

const CHROMIUM = process.env.SENDWELL_CHROMIUM ?? '/usr/bin/chromium';
const enabled = process.env.SENDWELL_IT_BROWSER === '1' && existsSync(CHROMIUM);

describe('integration: web form in Chromium', { skip: !enabled && `needs SENDWELL_IT_BROWSER=1 and ${CHROMIUM} (bash .ci/setup-browser.sh)` }, () => {
  let h: FormsHarness;
  let browser: import('playwright-core').Browser;
  before(async () => {
    h = await startForms(`
[forms.contact]
recipients = ["office@example.test"]
fields = ["name", "email", "message"]
receipt = true
title = "Contact form"

[lists.newsletter]
reason = "You receive this because you subscribed to the institute newsletter on our website."
description = "Institute newsletter"

[forms.news]
subscribe = "newsletter"
fields = ["email"]
title = "Newsletter sign-up"
consent_text = "Yes, send me the institute newsletter (consent text v2)."
`);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });
  after(async () => {
    await browser?.close();
    await h?.close();
  });

  async function fillAndSend(i: number, fields: { name: string; email: string; message: string }) {
    const page = await browser.newPage();
    try {
      await page.goto(`${h.base}/forms/contact`);
      for (const [name, value] of Object.entries(fields)) {
        await page.locator(`#sw-${name}`).click();
        await page.locator(`#sw-${name}`).pressSequentially(value, { delay: 25 + (i % 3) * 10 });
        await page.waitForTimeout(300);
      }
      await Promise.all([page.waitForURL(`${h.base}/forms/contact`, { waitUntil: 'load' }), page.getByRole('button', { name: 'Send' }).click()]);
      await page.getByText('was received').waitFor({ timeout: 20_000 });
    } finally {
      await page.close();
    }
  }

  it('five person-paced submissions all arrive at the fixed recipient', async () => {
    for (let i = 0; i < 5; i++) {
      await fillAndSend(i, { name: `Erika Muster ${i}`, email: `erika${i}@example.test`, message: `Hello, is the reading room open on Saturday ${i + 1}? Thank you.` });
    }
    await h.settle();
    const rows = h.forms.store.list('contact');
    assert.deepEqual(rows.map((r) => r.verdict), Array(5).fill('accepted'), JSON.stringify(rows.map((r) => r.reasons)));
    assert.equal(h.sink.messages.filter((m) => m.to.join() === 'office@example.test').length, 5);
    // Chromium sends Origin on a form POST: no origin point.
    assert.ok(rows.every((r) => r.score === 0), JSON.stringify(rows.map((r) => r.reasons)));
  });

  it('receipt end to end: confirmation mail, button, receipt without visitor text', async () => {
    const before = h.sink.messages.length;
    await fillAndSend(9, { name: 'Max Mustermann', email: 'max@example.test', message: 'Please call me back, details at https://max.example.test/cv' });
    await h.settle();
    const toMax = () => h.sink.messages.slice(before).filter((m) => m.to.includes('max@example.test'));
    assert.equal(toMax().length, 1, 'the confirmation request only');
    const confirmation = await simpleParser(toMax()[0]!.raw);
    const link = /(http:\/\/127\.0\.0\.1:\d+\/confirm\/\S+)/.exec(confirmation.text!)?.[1];
    assert.ok(link, confirmation.text);
    const page = await browser.newPage();
    try {
      await page.goto(link);
      await h.settle();
      assert.equal(toMax().length, 1, 'opening the link sends nothing');
      await Promise.all([page.waitForURL(link, { waitUntil: 'load' }), page.getByRole('button', { name: 'Confirm' }).click()]);
      await page.getByRole('heading', { name: 'Confirmed' }).waitFor();
    } finally {
      await page.close();
    }
    await h.settle();
    assert.equal(toMax().length, 2);
    const receipt = await simpleParser(toMax()[1]!.raw);
    assert.match(receipt.text!, /we received your message sent on \d{4}-\d\d-\d\d \d\d:\d\d UTC via Contact form\./);
    for (const typed of ['Max', 'Mustermann', 'call me', 'max.example.test', 'https://']) {
      assert.ok(!receipt.text!.includes(typed) && !(receipt.subject ?? '').includes(typed), `the receipt carries "${typed}"`);
      assert.ok(!confirmation.text!.includes(typed), `the confirmation carries "${typed}"`);
    }
  });

  it('newsletter sign-up end to end: the form, the confirmation mail, the button; consent recorded with proof (R1)', async () => {
    const before = h.sink.messages.length;
    const page = await browser.newPage();
    try {
      await page.goto(`${h.base}/forms/news`);
      await page.locator('#sw-email').click();
      await page.locator('#sw-email').pressSequentially('nora@example.test', { delay: 40 });
      await page.waitForTimeout(3000);
      await Promise.all([page.waitForURL(`${h.base}/forms/news`, { waitUntil: 'load' }), page.getByRole('button', { name: 'Send' }).click()]);
      await page.getByText('was received').waitFor({ timeout: 20_000 });
    } finally {
      await page.close();
    }
    await h.settle();
    const toNora = () => h.sink.messages.slice(before).filter((m) => m.to.includes('nora@example.test'));
    assert.equal(toNora().length, 1, 'only the confirmation request');
    assert.equal(h.consent.subscription('newsletter', 'nora@example.test')!.status, 'pending');
    const confirmation = await simpleParser(toNora()[0]!.raw);
    assert.match(confirmation.subject ?? '', /^Please confirm: subscribe to Institute newsletter$/);
    const link = /(http:\/\/127\.0\.0\.1:\d+\/confirm\/\S+)/.exec(confirmation.text!)![1]!;
    const p2 = await browser.newPage();
    try {
      await p2.goto(link);
      assert.equal(h.consent.subscription('newsletter', 'nora@example.test')!.status, 'pending', 'opening the link confirms nothing');
      await Promise.all([p2.waitForURL(link, { waitUntil: 'load' }), p2.getByRole('button', { name: 'Confirm' }).click()]);
      await p2.getByRole('heading', { name: 'Confirmed' }).waitFor();
    } finally {
      await p2.close();
    }
    const sub = h.consent.subscription('newsletter', 'nora@example.test')!;
    assert.equal(sub.status, 'confirmed');
    assert.equal(sub.channel, 'form');
    assert.match(sub.source, /^form:news http:\/\/127\.0\.0\.1:\d+\/forms\/news$/);
    assert.equal(sub.consentText, 'Yes, send me the institute newsletter (consent text v2).');
    assert.equal(sub.signupIp, '127.0.0.1');
    assert.equal(sub.confirmMethod, 'post-button');
    assert.match(sub.confirmUserAgent ?? '', /Chrome/);
  });
});

/**
 * `/metrics` in the Prometheus text exposition format (version 0.0.4).
 * Gauges come from the queue (shared by every process on the state
 * directory); counters from this process's worker since it started.
 */
import { RECIPIENT_STATES, type RecipientState } from '../../queue/states.js';
import type { WorkerMetrics } from '../../queue/worker.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface MetricsInput {
  byState: Record<RecipientState, number>;
  worker?: WorkerMetrics;
  relayMode?: string;
  /** HTTP responses of this API by status code. */
  http?: Map<number, number>;
}

/** Label values escape backslash, double quote and line feed. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

type Sample = { labels?: Record<string, string>; value: number };

function family(name: string, type: 'gauge' | 'counter', help: string, samples: Sample[]): string {
  let out = `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
  for (const s of samples) {
    const labels = s.labels ? `{${Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
    out += `${name}${labels} ${Number.isFinite(s.value) ? s.value : 0}\n`;
  }
  return out;
}

/** Counters of the worker and what they mean; names are public surface. */
const WORKER_COUNTERS: Array<[keyof WorkerMetrics, string, string]> = [
  ['attempts', 'sendwell_delivery_attempts_total', 'Delivery attempts (one per recipient tried) since the worker started.'],
  ['delivered', 'sendwell_delivered_total', 'Recipients the relay accepted since the worker started.'],
  ['deferred', 'sendwell_deferred_total', 'Temporary failures (to be retried) since the worker started.'],
  ['bounced', 'sendwell_bounced_total', 'Permanent failures and expiries since the worker started.'],
  ['rateLimitWaits', 'sendwell_rate_limit_waits_total', 'Recipients put back because a rate limit (limits.*) had no token left.'],
  ['relayErrors', 'sendwell_relay_errors_total', 'Connections or sessions to the relay that failed as a whole.'],
  ['throttled', 'sendwell_relay_throttled_total', 'Times the relay asked us to slow down (421/451 rate replies).'],
];

export function renderMetrics(m: MetricsInput): string {
  let out = family(
    'sendwell_recipients',
    'gauge',
    'Recipients in the queue by state (queued, active, deferred, held, delivered, bounced, expired, cancelled, suppressed).',
    RECIPIENT_STATES.map((state) => ({ labels: { state }, value: m.byState[state] ?? 0 })),
  );
  if (m.worker) {
    for (const [key, name, help] of WORKER_COUNTERS) out += family(name, 'counter', help, [{ value: m.worker[key] }]);
  }
  if (m.relayMode !== undefined) {
    out += family('sendwell_relay_info', 'gauge', 'Always 1; the label says how mail leaves (smtp, smtps, smtp+starttls, sendmail, capture).', [{ labels: { mode: m.relayMode }, value: 1 }]);
  }
  if (m.http) {
    const codes = [...m.http.keys()].sort((a, b) => a - b);
    out += family('sendwell_http_responses_total', 'counter', 'Responses of the HTTP API by status code since it started.', codes.map((code) => ({ labels: { code: String(code) }, value: m.http!.get(code)! })));
  }
  return out;
}

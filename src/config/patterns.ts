/**
 * The patterns sendwell.toml values are checked against, shared by the zod
 * schema (schema.ts, forms.ts: the error messages) and the fast check
 * (fast.ts: the start-up path of the sendmail drop-in), so both accept
 * exactly the same values.
 */

export const DOT_ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*";
export const DOMAIN = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+';

export const LISTEN = /^(\[[0-9a-fA-F:.]+\]|[0-9.]+|localhost):\d{1,5}$/;
export const CIDR = /^([0-9.]+|[0-9a-fA-F:.]+)\/\d{1,3}$/;
export const LIST_NAME = /^[a-z0-9](?:[a-z0-9-]{0,62})$/;
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** bounces.address and the recipients of a form. */
export const SIMPLE_ADDRESS = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;
export const IP_OR_NETWORK = /^[0-9a-fA-F:.]+(\/\d{1,3})?$/;
export const PUBLIC_URL = /^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/;
export const LIST_ID = new RegExp(`^[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.${DOMAIN}$`);
export const DOMAIN_NAME = new RegExp(`^${DOMAIN}$`);
export const DKIM_SELECTOR = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;
export const LOCAL_NAME = new RegExp(`^${DOT_ATOM}$`);
export const SPAMD = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;
export const RSPAMD = /^https?:\/\/[^\s/]+(\/\S*)?$/;
export const FORM_FIELD = /^[a-z][a-z0-9_]{0,31}$/;
/** [log] syslog_tag: a syslog TAG (RFC 3164 §4.1.3: at most 32 characters), e.g. "sendwell". */
export const SYSLOG_TAG = /^[A-Za-z0-9][A-Za-z0-9._\/-]{0,31}$/;
/** [log] syslog_server: "udp://host[:port]", "tcp://host[:port]" (port 514 by default) or "unix:/path" (a local socket). */
export const SYSLOG_SERVER = /^(?:(?:udp|tcp):\/\/(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::\d{1,5})?|unix:\/[^\s\0]*)$/;
/** [log] syslog_facility: the facilities sendwell may log to (RFC 5424 §6.2.1). */
export const SYSLOG_FACILITIES = ['mail', 'daemon', 'user', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7'] as const;

const ALIAS_TARGET = new RegExp(`^${DOT_ATOM}(?:@${DOMAIN})?$`);
/** An [aliases] target: an address or a local name; no pipes or files. */
export function isAliasTarget(v: string): boolean {
  return !/^[|/]/.test(v) && ALIAS_TARGET.test(v);
}

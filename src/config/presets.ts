/** `sendwell init --preset …`: a commented config for each connection mode of the guide (C1–C3). */

export const PRESETS = ['local', 'sendmail', 'submission', 'smtps', 'smarthost'] as const;
export type Preset = (typeof PRESETS)[number];

interface PresetInfo {
  rule: string;
  title: string;
  url: (host: string) => string;
  defaultHost: string;
  notes: string[];
}

const INFO: Record<Preset, PresetInfo> = {
  local: {
    rule: 'C1',
    title: 'the local MTA on this host, SMTP to localhost port 25, no login, no TLS',
    url: (h) => `smtp://${h}:25?tls=never`,
    defaultHost: 'localhost',
    notes: [
      'Needs a running MTA (e.g. `apt install postfix`, "Local only" or "Satellite system").',
      'The MTA itself forwards the mail: `mailq` shows what it still holds (T1),',
      'its mail log (/var/log/mail.log or `journalctl -u postfix`) shows each delivery (T2, T3).',
    ],
  },
  sendmail: {
    rule: 'C1',
    title: "the local MTA's sendmail command",
    url: () => 'sendmail:/usr/sbin/sendmail',
    defaultHost: '',
    notes: [
      'sendwell runs `/usr/sbin/sendmail -i -f <envelope sender> -- <recipients>` and maps its',
      'exit status (sysexits) to temporary or permanent errors.',
    ],
  },
  submission: {
    rule: 'C2',
    title: 'the submission server on port 587 with STARTTLS (required, certificate verified)',
    url: (h) => `smtp+starttls://${h}:587`,
    defaultHost: 'mail.example.org',
    notes: [
      'From other hosts of the internal network, e.g. the guide\'s mail.cit.tum.de.',
      'No login is needed for now; when one is, uncomment username and password_file.',
    ],
  },
  smtps: {
    rule: 'C2',
    title: 'the submission server on port 465 with implicit TLS (smtps)',
    url: (h) => `smtps://${h}:465`,
    defaultHost: 'mail.example.org',
    notes: ['Same server as the submission preset, for networks where port 587 is closed.'],
  },
  smarthost: {
    rule: 'C3',
    title: 'a smarthost (relay) on port 25',
    url: (h) => `smtp://${h}:25`,
    defaultHost: 'mailrelay.example.org',
    notes: [
      "Sends straight to the smarthost, e.g. the guide's mailrelay.rbg.tum.de, using STARTTLS when offered.",
      'If this host runs Postfix, you can instead set `relayhost = [mailrelay.example.org]:25`',
      'in /etc/postfix/main.cf and use the local preset: then Postfix queues and retries.',
    ],
  },
};

export function presetTitle(p: Preset): string {
  return `${INFO[p].title} (${INFO[p].rule})`;
}

/** The commented TOML for a preset. `from` is written only when given. */
export function renderPreset(preset: Preset, opts: { host?: string; from?: string } = {}): string {
  const info = INFO[preset];
  const host = opts.host ?? info.defaultHost;
  const url = info.url(host);
  const fromLine = opts.from ? `from = ${JSON.stringify(opts.from)}` : '# from = "Jane Doe <jane.doe@example.org>"   # required: a real address that receives replies (R2, R3)';
  return [
    `# sendwell.toml, written by \`sendwell init --preset ${preset}\``,
    `# Connection: ${info.title} (guide rule ${info.rule}).`,
    ...info.notes.map((n) => `# ${n}`),
    '# `sendwell config` prints the effective settings, `sendwell config --defaults` every key.',
    '',
    '[relay]',
    `url = ${JSON.stringify(url)}`,
    ...(preset === 'submission' || preset === 'smtps' || preset === 'smarthost'
      ? [
          '# username = "jane"',
          '# password_file = "/etc/sendwell/relay.pass"   # chmod 600; or password_env = "VAR" or password_command = "pass show mail" (R11)',
          '# ca_file = "/etc/ssl/certs/private-ca.pem"    # only for a private CA',
        ]
      : []),
    '# connect_timeout = "30s"',
    '',
    '[sender]',
    fromLine,
    '# envelope_from = "bounces@example.org"   # bounce address; default: the From address. Must receive bounces (R2, R3, R5).',
    '# reply_to = "office@example.org"         # optional, no substitute for a valid sender (R4)',
    '',
    '[policy]',
    '# allow_senders = []                      # exceptions to R2.noreply-sender, e.g. a monitored address',
    '# attachment_warn_size = "1MiB"           # R9: send links instead of large attachments',
    '# attachment_max_size = "10MiB"',
    '',
  ].join('\n');
}

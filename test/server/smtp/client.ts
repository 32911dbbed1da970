/**
 * A byte-level SMTP client for the listener tests: real sockets, a chosen local
 * address (127.0.0.2 plays a host outside the allowed networks), pipelining
 * (write several commands at once, then read the replies in order) and STARTTLS.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface SmtpReply {
  code: number;
  lines: string[];
  /** The reply as sent, lines joined with CRLF. */
  text: string;
}

export class RawSmtp {
  private socket: net.Socket | tls.TLSSocket;
  private buf = '';
  private current: string[] = [];
  private readonly replies: SmtpReply[] = [];
  private waiters: Array<(r: SmtpReply | undefined) => void> = [];
  private ended = false;
  /** Called synchronously as each reply is parsed (before anything else runs). */
  onReply: ((r: SmtpReply) => void) | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  static connect(port: number, opts: { host?: string; localAddress?: string; tls?: { ca: string } } = {}): Promise<RawSmtp> {
    return new Promise((resolve, reject) => {
      const host = opts.host ?? '127.0.0.1';
      const base = { host, port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) };
      const socket: net.Socket = opts.tls ? tls.connect({ ...base, ca: opts.tls.ca, servername: 'localhost' }) : net.connect(base);
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => resolve(new RawSmtp(socket)));
      socket.once('error', reject);
    });
  }

  private attach(socket: net.Socket | tls.TLSSocket): void {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => this.feed(d));
    socket.on('close', () => {
      this.ended = true;
      for (const w of this.waiters.splice(0)) w(undefined);
    });
    socket.on('error', () => {});
  }

  private feed(d: string): void {
    this.buf += d;
    for (let i = this.buf.indexOf('\r\n'); i >= 0; i = this.buf.indexOf('\r\n')) {
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      this.current.push(line);
      if (line[3] !== '-') {
        const r: SmtpReply = { code: Number(line.slice(0, 3)), lines: this.current.map((l) => l.slice(4)), text: this.current.join('\r\n') };
        this.current = [];
        this.onReply?.(r);
        const w = this.waiters.shift();
        if (w) w(r);
        else this.replies.push(r);
      }
    }
  }

  /** The next reply (rejects when the server closed the connection first). */
  reply(): Promise<SmtpReply> {
    const r = this.replies.shift();
    if (r) return Promise.resolve(r);
    if (this.ended) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => this.waiters.push((x) => (x ? resolve(x) : reject(new Error('connection closed')))));
  }

  write(s: string | Buffer): void {
    this.socket.write(s);
  }

  async cmd(line: string): Promise<SmtpReply> {
    this.write(`${line}\r\n`);
    return this.reply();
  }

  /** Send a message body after 354: dot-stuffed, ended with CRLF.CRLF. */
  async data(body: string | Buffer): Promise<SmtpReply> {
    const text = (typeof body === 'string' ? Buffer.from(body) : body).toString('latin1').replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    this.write(Buffer.from(`${text}${text.endsWith('\r\n') ? '' : '\r\n'}.\r\n`, 'latin1'));
    return this.reply();
  }

  async starttls(ca: string): Promise<void> {
    const r = await this.cmd('STARTTLS');
    if (r.code !== 220) throw new Error(`STARTTLS refused: ${r.text}`);
    const plain = this.socket as net.Socket;
    plain.removeAllListeners('data');
    await new Promise<void>((resolve, reject) => {
      const s = tls.connect({ socket: plain, ca, servername: 'localhost' }, () => resolve());
      s.once('error', reject);
      this.socket = s;
      this.attach(s);
    });
  }

  get encrypted(): boolean {
    return this.socket instanceof tls.TLSSocket;
  }

  /** Wait until the server closes the connection. */
  closed(): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A plain message with every header the guide asks for. */
export function message(over: { from?: string; to?: string; subject?: string; body?: string; date?: boolean; messageId?: boolean; extra?: string } = {}): string {
  const lines = [
    `From: ${over.from ?? 'Jane Doe <jane@example.test>'}`,
    `To: ${over.to ?? 'bob@example.org'}`,
    `Subject: ${over.subject ?? 'Report'}`,
  ];
  if (over.date !== false) lines.push(`Date: ${new Date().toUTCString().replace('GMT', '+0000')}`);
  if (over.messageId !== false) lines.push(`Message-ID: <${Math.random().toString(36).slice(2)}.test@example.test>`);
  if (over.extra) lines.push(over.extra);
  return `${lines.join('\r\n')}\r\n\r\n${over.body ?? 'The nightly report is ready.'}\r\n`;
}

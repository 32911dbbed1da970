/**
 * Request bodies: read with a hard size limit (counted while reading, so a
 * chunked body or a lying Content-Length cannot get past it), then JSON.
 */
import type { IncomingMessage } from 'node:http';
import { badRequest, fieldError, HttpError } from './errors.js';

export function payloadTooLarge(limit: number): HttpError {
  return new HttpError(413, `the request body is larger than ${limit} bytes (http.max_body_size)`, {
    hint: 'send smaller attachments, or put a link to large files in the text (R9)',
    headers: { Connection: 'close' },
  });
}

/** Read the whole body; 413 as soon as it passes `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(payloadTooLarge(limit));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err: unknown, body?: Buffer) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (err) reject(err);
      else resolve(body!);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Stop reading; the response closes the connection (Connection: close).
        req.pause();
        finish(payloadTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish(null, Buffer.concat(chunks, size));
    const onError = (err: Error) => finish(new HttpError(400, `the request body could not be read: ${err.message}`, { cause: err }));
    const onClose = () => finish(new HttpError(400, 'the client closed the connection before the body was complete'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** The media type must be JSON (`application/json`, any parameters); else 415. */
export function requireJson(req: IncomingMessage): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpError(415, `the request body must be application/json, not ${type ? JSON.stringify(type) : 'untyped'}`, {
      hint: 'send Content-Type: application/json',
      headers: { 'Accept-Post': 'application/json' },
    });
  }
}

/** Parse UTF-8 JSON; 400 naming the body when it is not. */
export function parseJson(body: Buffer): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw badRequest([fieldError([], 'the body is not valid UTF-8', 'EUSAGE')]);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest([fieldError([], `malformed JSON: ${(err as Error).message}`, 'EUSAGE')]);
  }
}

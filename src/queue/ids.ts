import { randomBelow } from '../random.js';

// Vowel-free, so queue IDs never spell words (like Postfix's long queue IDs).
const ALPHABET = '0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjkmnpqrstvwxyz';

/** Time-ordered queue ID: 8 characters of milliseconds, 6 random. */
export function newQueueId(now: number): string {
  let t = now;
  let head = '';
  for (let i = 0; i < 8; i++) {
    head = ALPHABET[t % ALPHABET.length]! + head;
    t = Math.floor(t / ALPHABET.length);
  }
  let tail = '';
  for (let i = 0; i < 6; i++) tail += ALPHABET[randomBelow(ALPHABET.length)];
  return head + tail;
}

export const QUEUE_ID = /^[0-9BCDFGHJKLMNPQRSTVWXYZbcdfghjkmnpqrstvwxyz]{14}$/;

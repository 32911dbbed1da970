/**
 * `[forms.NAME]`: web forms served at POST /forms/{name} (R10). The schema of
 * one form; its protections are on by default.
 */
import { z } from 'zod';
import { FORM_FIELD, SIMPLE_ADDRESS } from './patterns.js';

const address = z.string().regex(SIMPLE_ADDRESS, 'is not an address such as "office@example.org"');

export const formSchema = z
  .object({
    /** Who gets each submission: fixed here, never taken from the request. */
    recipients: z.array(address).min(1),
    /** Field names; see `src/forms` for types and lengths. */
    fields: z.array(z.string().regex(FORM_FIELD, 'is not a field name: lower-case letters, digits and "_"')).min(1),
    /** Send the submitter a receipt, only after they confirmed their address (double opt-in). */
    receipt: z.boolean().default(false),
  })
  .strict();

export type FormConfig = z.infer<typeof formSchema>;

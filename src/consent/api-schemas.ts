/** The consent API's shapes (OpenAPI components come from these). */
import { z } from 'zod';
import { named } from '../server/http/schemas.js';

export const CreateListRequest = named(
  z.strictObject({
    name: z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,62})$/, 'is not a list name: lower-case letters, digits and "-"'),
    reason: z.string().min(10, 'must say why recipients get the mail (R1)'),
    double_opt_in: z.boolean().optional().describe('Default true: sign-ups are confirmed by the address owner before they count.'),
    description: z.string().min(1).max(200).regex(/^[^\r\n\0]+$/, 'must be one line').optional(),
  }),
  'CreateList',
  'A new list. The reason is added to every mail of the list (R1).',
);

export const ListInfo = named(
  z.object({
    name: z.string(),
    reason: z.string(),
    double_opt_in: z.boolean(),
    description: z.string().nullable(),
    from_config: z.boolean().describe('Defined in [lists.NAME] of the config (change it there).'),
    counts: z.object({ pending: z.number().int(), confirmed: z.number().int(), unsubscribed: z.number().int() }),
  }),
  'List',
  'A mailing list and how many subscriptions it has per status.',
);

export const SubscribeRequest = named(
  z.strictObject({
    email: z.string().min(3),
    source: z.string().min(1).optional().describe('Where the consent was given (form URL, app); default api:<token name>.'),
    consent_text: z.string().min(1).optional().describe('The consent text or its version the person agreed to.'),
    ip: z.string().min(1).optional().describe('The person\'s IP address at sign-up (proof).'),
    user_agent: z.string().min(1).optional(),
  }),
  'Subscribe',
  'A sign-up. On a double opt-in list it stays pending until the address owner confirms through the mailed link.',
);

export const SubscribeResult = named(
  z.object({ status: z.enum(['pending', 'confirmed', 'unsubscribed']), confirmation_sent: z.boolean() }),
  'SubscribeResult',
  'The subscription\'s status, and whether a confirmation mail was queued now (at most one per address and bulk.confirm_interval).',
);

export const SubscriptionInfo = named(
  z.object({
    email: z.string(),
    status: z.enum(['pending', 'confirmed', 'unsubscribed']),
    source: z.string(),
    channel: z.string(),
    consent_text: z.string().nullable(),
    signup_at: z.string(),
    signup_ip: z.string().nullable(),
    confirmed_at: z.string().nullable(),
    confirm_ip: z.string().nullable(),
    confirm_method: z.string().nullable(),
    unsubscribed_at: z.string().nullable(),
    unsubscribe_method: z.string().nullable(),
  }),
  'Subscription',
  'A subscription with its proof of consent.',
);

export const ListSendResult = named(
  z.object({
    list: z.string(),
    sent: z.array(z.object({ address: z.string(), queue_id: z.string(), message_id: z.string(), existing: z.boolean() })),
    refused: z.array(z.object({ address: z.string(), reason: z.string() })),
  }),
  'ListSendResult',
  'One queued message per consenting subscriber; addresses without consent are refused with the reason (R1).',
);

import { createHmac, timingSafeEqual } from 'node:crypto'

/** How old (or how far ahead) a request's webhook-timestamp may be, as Standard Webhooks advises. */
export const WEBHOOK_TOLERANCE_SECONDS = 5 * 60

type HeaderSource = Headers | Record<string, string | string[] | undefined>

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined
  const value = (headers as Record<string, string | string[] | undefined>)[name]
  return Array.isArray(value) ? value[0] : value
}

/**
 * Whether a request really comes from vingine: its webhook-signature (Standard Webhooks) matches
 * `secret` (your `whsec_...` from GET /api/signing-secret) over webhook-id, webhook-timestamp and
 * the exact body bytes, and its timestamp is within WEBHOOK_TOLERANCE_SECONDS of now.
 *
 * Pass the raw body (`await request.text()`), not a re-serialised object: the signature is over the
 * bytes that were sent. During a secret rotation a request carries two signatures; either matches.
 */
export function verifyWebhook(
  secret: string,
  headers: HeaderSource,
  body: string | Uint8Array,
  now: Date = new Date(),
): boolean {
  const id = header(headers, 'webhook-id')
  const timestamp = header(headers, 'webhook-timestamp')
  const signatures = header(headers, 'webhook-signature')
  if (!id || !timestamp || !signatures || !/^\d+$/.test(timestamp)) return false
  if (Math.abs(now.getTime() / 1000 - Number(timestamp)) > WEBHOOK_TOLERANCE_SECONDS) return false
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64')
  const expected = createHmac('sha256', key)
    .update(`${id}.${timestamp}.`)
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
    .digest()
  return signatures.split(' ').some((entry) => {
    const [version, signature] = entry.split(',', 2)
    if (version !== 'v1' || !signature) return false
    const given = Buffer.from(signature, 'base64')
    return given.length === expected.length && timingSafeEqual(given, expected)
  })
}

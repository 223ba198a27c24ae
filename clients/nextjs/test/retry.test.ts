// The client's answer to a 429: retried after Retry-After when the wait is short, handed to the
// caller when it is long. A fetch of the test's own stands in for the server, so the waits are exact.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createVingineClient, RETRY_AFTER_MAX_SECONDS, VingineError } from '../src/index.js'

const JOB = { status: 'success', job: { job_id: 'j' } }

function answers(...replies: Array<[number, Record<string, string>, unknown]>) {
  const seen: string[] = []
  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init)
    seen.push(`${request.method} ${new URL(request.url).pathname}`)
    const [status, headers, body] = replies[Math.min(seen.length - 1, replies.length - 1)]!
    return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } })
  }
  return { fetch: fetch as typeof globalThis.fetch, seen }
}

test('a 429 with a short Retry-After is sent again and its answer returned', async () => {
  const server = answers([429, { 'Retry-After': '0' }, { detail: 'Too many requests' }], [200, {}, JOB])
  const client = createVingineClient({ baseUrl: 'http://vingine.test', token: 't', fetch: server.fetch })

  const answer = await client.getJob('j')

  assert.deepEqual(answer, JOB)
  assert.deepEqual(server.seen, ['GET /api/cron/jobs/j', 'GET /api/cron/jobs/j'])
})

test('a 429 is retried at most twice, then given to the caller', async () => {
  const server = answers([429, { 'Retry-After': '0' }, { detail: 'Too many requests' }])
  const client = createVingineClient({ baseUrl: 'http://vingine.test', token: 't', fetch: server.fetch })

  await assert.rejects(client.getJob('j'), (error: unknown) => error instanceof VingineError && error.status === 429)
  assert.equal(server.seen.length, 3)
})

test('a 429 asking for a longer wait than the client takes is the caller\'s at once', async () => {
  const wait = String(RETRY_AFTER_MAX_SECONDS + 1)
  const server = answers([429, { 'Retry-After': wait }, { detail: 'Too many failed sign-ins' }])
  const client = createVingineClient({ baseUrl: 'http://vingine.test', fetch: server.fetch })

  await assert.rejects(
    client.obtainToken({ username: 'u', password: 'p' }),
    (error: unknown) => error instanceof VingineError && error.status === 429 && error.detail === 'Too many failed sign-ins',
  )
  assert.equal(server.seen.length, 1)
})

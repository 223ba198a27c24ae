// Signed requests end to end: a run's http step calls a receiver started here, and verifyWebhook
// checks what it got against the caller's signing secret, before and after a rotation.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { verifyWebhook, type VingineClient } from '../src/index.js'
import { eventually, signIn, uniqueId, USER } from './helpers.js'

interface Delivery {
  headers: IncomingHttpHeaders
  body: Buffer
}

let client: VingineClient
let server: Server
let workflowId: string
const deliveries: Delivery[] = []

before(async () => {
  client = (await signIn(USER)).client
  server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      deliveries.push({ headers: request.headers, body: Buffer.concat(chunks) })
      response.writeHead(200, { 'Content-Type': 'application/json' }).end('{"received": true}')
    })
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const { port } = server.address() as AddressInfo
  workflowId = uniqueId('wf-webhook')
  const step = { type: 'http', method: 'POST', url: `http://127.0.0.1:${port}/hook`, body: { topic: '{{input}}' } }
  await client.saveWorkflow({ workflow_id: workflowId, name: 'Webhook', steps: [step] })
})

after(async () => {
  server.closeAllConnections()
  await new Promise((done) => server.close(done))
  await client.deleteWorkflow(workflowId)
})

/** Runs the workflow with a fresh input; the request its step sent is the one carrying that input. */
async function delivered(topic: string): Promise<Delivery> {
  const input = uniqueId(topic)
  const { run } = await client.runWorkflow(workflowId, { input })
  await eventually(`run ${run.run_id} to succeed`, async () => {
    const current = (await client.getRun(run.run_id)).run
    if (current.finished_at && current.status !== 'succeeded') throw new Error(`run ended ${current.status}: ${current.error}`)
    return current.status === 'succeeded'
  })
  const delivery = deliveries.find((d) => JSON.parse(d.body.toString('utf8')).topic === input)
  assert.ok(delivery, `the receiver got the request of run ${run.run_id}`)
  assert.match(String(delivery.headers['webhook-id']), /^msg_/)
  return delivery
}

function randomSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`
}

describe('signed requests', () => {
  test("a step's request verifies with the caller's secret, and only as it was sent", async () => {
    const { secret } = await client.getSigningSecret()
    const { headers, body } = await delivered('kites')
    assert.match(JSON.parse(body.toString('utf8')).topic, /^kites-/)

    assert.equal(verifyWebhook(secret, headers, body), true)
    assert.equal(verifyWebhook(secret, headers, body.toString('utf8')), true)
    // As a Next.js route handler sees them.
    const fetchHeaders = new Headers(Object.entries(headers).map(([name, value]): [string, string] => [name, String(value)]))
    assert.equal(verifyWebhook(secret, fetchHeaders, body), true)

    assert.equal(verifyWebhook(secret, headers, body.toString('utf8').replace('kites', 'kited')), false)
    assert.equal(verifyWebhook(randomSecret(), headers, body), false)
    const sentAt = Number(headers['webhook-timestamp'])
    assert.equal(verifyWebhook(secret, headers, body, new Date((sentAt + 10 * 60) * 1000)), false)
  })

  test('after a rotation, requests verify with the previous secret and the new one', async () => {
    const previous = (await client.getSigningSecret()).secret
    const rotated = await client.rotateSigningSecret()
    assert.equal(rotated.message, 'A new signing secret was made')
    assert.match(rotated.secret, /^whsec_/)
    assert.notEqual(rotated.secret, previous)
    assert.ok(rotated.previous_expires_at, 'the previous secret signs until a stated time')
    assert.equal((await client.getSigningSecret()).secret, rotated.secret)

    const { headers, body } = await delivered('gulls')
    assert.equal(String(headers['webhook-signature']).split(' ').length, 2, 'one signature per secret')
    assert.equal(verifyWebhook(previous, headers, body), true)
    assert.equal(verifyWebhook(rotated.secret, headers, body), true)
    assert.equal(verifyWebhook(randomSecret(), headers, body), false)
  })
})

// watchRuns() against the live stack: the run stream server (uvicorn), web, a worker and beat.
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { before, describe, test } from 'node:test'
import {
  createVingineClient,
  VingineError,
  watchRuns,
  type RunEvent,
  type RunStreamEvent,
  type StreamState,
  type VingineClient,
  type WatchRunsOptions,
} from '../src/index.js'
import { ECHO_STEPS, OTHER_USER, USER, eventually, signIn, uniqueId } from './helpers.js'

// Generous: a loaded two-core machine may take seconds to start a run.
const TIMEOUT_MS = 60_000

let client: VingineClient
let other: VingineClient
let workflowId: string
let otherWorkflowId: string

before(async () => {
  client = (await signIn(USER)).client
  other = (await signIn(OTHER_USER)).client
  workflowId = uniqueId('wf-stream')
  otherWorkflowId = uniqueId('wf-stream-other')
  await client.saveWorkflow({ workflow_id: workflowId, name: 'Stream', steps: ECHO_STEPS })
  await other.saveWorkflow({ workflow_id: otherWorkflowId, name: 'Stream', steps: ECHO_STEPS })
})

/** A job that fires only when triggered (its slot is a year away). */
async function quietJob(owner: VingineClient = client): Promise<string> {
  const jobId = uniqueId('stream')
  const workflow_id = owner === client ? workflowId : otherWorkflowId
  await owner.createCronJob({ job_id: jobId, workflow_id, input: 'live', cron_expression: '@yearly' })
  return jobId
}

/** Reads a stream in the background: its events so far, its states, and waits on both. */
class Watch {
  readonly events: RunStreamEvent[] = []
  readonly states: StreamState[] = []
  error: unknown
  private readonly stop = new AbortController()
  private readonly done: Promise<void>
  private wake = () => {}

  constructor(start: (options: Pick<WatchRunsOptions, 'signal' | 'onState'>) => AsyncIterable<RunStreamEvent>) {
    const onState = (state: StreamState) => {
      this.states.push(state)
      this.wake()
    }
    this.done = (async () => {
      try {
        for await (const event of start({ signal: this.stop.signal, onState })) {
          this.events.push(event)
          this.wake()
        }
      } catch (error) {
        this.error = error
      }
      this.wake()
    })()
  }

  /** Waits until `check` holds of what has been seen; fails after `timeoutMs`. */
  async until(what: string, check: (watch: this) => boolean, timeoutMs = TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!check(this)) {
      if (this.error) throw this.error
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; saw ${this.describe()}`)
      await new Promise<void>((resolve) => {
        this.wake = resolve
        setTimeout(resolve, 250)
      })
    }
  }

  opened(): Promise<void> {
    return this.until('the stream to open', (w) => w.states.includes('open'))
  }

  runEvents(runId: string): RunEvent[] {
    return this.events.filter((e): e is RunEvent => 'run' in e && e.run.run_id === runId)
  }

  ended(runId: string): Promise<void> {
    return this.until(`run ${runId} to end`, (w) => w.runEvents(runId).some((e) => e.type === 'run.ended'))
  }

  async close(): Promise<void> {
    this.stop.abort()
    await this.done
  }

  describe(): string {
    return JSON.stringify(this.events.map((e) => ('run' in e ? `${e.type} ${e.run.run_id}` : e.type)))
  }
}

function kinds(events: RunEvent[]): string[] {
  return events.map((e) => e.type).filter((type) => type !== 'run.step')
}

describe('watchRuns', () => {
  test("a triggered run's events arrive in order, each run as GET /api/runs/{id} shows it", async () => {
    const jobId = await quietJob()
    const watch = new Watch((options) => client.watchRuns({ jobId, ...options }))
    try {
      await watch.opened()
      const { run_id } = await client.triggerJob(jobId)
      await watch.ended(run_id)
      const events = watch.runEvents(run_id)
      assert.deepEqual(kinds(events), ['run.created', 'run.started', 'run.ended'])
      // Every step's event comes between the start and the end, in the workflow's order.
      const steps = events.filter((e) => e.type === 'run.step')
      assert.deepEqual(
        steps.map((e) => e.step?.index),
        ECHO_STEPS.map((_, index) => index),
      )
      assert.ok(events.indexOf(steps[0]!) > events.findIndex((e) => e.type === 'run.started'))
      // Ids go up: they are the order the server recorded the events in.
      const ids = events.map((e) => e.id.split('-').map(Number) as [number, number])
      for (let i = 1; i < ids.length; i++) {
        const [ms, seq] = ids[i]!
        const [prevMs, prevSeq] = ids[i - 1]!
        assert.ok(ms > prevMs || (ms === prevMs && seq > prevSeq), `ids in order: ${events.map((e) => e.id)}`)
      }
      const ended = events.at(-1)!
      assert.equal(ended.run.status, 'succeeded')
      assert.deepEqual(ended.run, (await client.getRun(run_id)).run)
    } finally {
      await watch.close()
    }
    assert.equal(watch.states.at(-1), 'closed')
    assert.equal(watch.error, undefined, 'an abort ends the iteration without an error')
  })

  test("a stream of one job carries none of the user's other runs; the user's whole stream carries both", async () => {
    const [watched, unwatched] = [await quietJob(), await quietJob()]
    const scoped = new Watch((options) => client.watchRuns({ jobId: watched, ...options }))
    const all = new Watch((options) => client.watchRuns(options))
    try {
      await Promise.all([scoped.opened(), all.opened()])
      const elsewhere = await client.triggerJob(unwatched)
      const here = await client.triggerJob(watched)
      await Promise.all([scoped.ended(here.run_id), all.ended(here.run_id), all.ended(elsewhere.run_id)])
      assert.deepEqual(scoped.runEvents(elsewhere.run_id), [])
      assert.ok(scoped.events.every((e) => !('run' in e) || e.run.job_id === watched), scoped.describe())
    } finally {
      await Promise.all([scoped.close(), all.close()])
    }
  })

  test("a stream of one run carries that run's events only", async () => {
    // The run waits on a request to a receiver here until the test lets it go: it is still going
    // when the stream of it opens, however slowly the machine runs.
    let release = () => {}
    const held = new Promise<void>((resolve) => (release = resolve))
    const receiver = createServer((_, response) => void held.then(() => response.end('{"ok": true}')))
    await new Promise<void>((done) => receiver.listen(0, '127.0.0.1', done))
    const { port } = receiver.address() as AddressInfo
    const heldWorkflow = uniqueId('wf-held')
    const step = { type: 'http', method: 'POST', url: `http://127.0.0.1:${port}/hold`, timeout: 120 }
    await client.saveWorkflow({ workflow_id: heldWorkflow, name: 'Held', steps: [step] })
    const { run } = await client.runWorkflow(heldWorkflow, { input: 'held' })
    const otherJob = await quietJob()
    const watch = new Watch((options) => client.watchRuns({ runId: run.run_id, ...options }))
    const all = new Watch((options) => client.watchRuns(options))
    try {
      await eventually('the held run to start', async () => (await client.getRun(run.run_id)).run.status === 'running')
      await Promise.all([watch.opened(), all.opened()])
      const elsewhere = await client.triggerJob(otherJob)
      await all.ended(elsewhere.run_id)
      release()
      await watch.ended(run.run_id)
      assert.deepEqual(kinds(watch.runEvents(run.run_id)), ['run.ended'])
      assert.ok(watch.events.every((e) => !('run' in e) || e.run.run_id === run.run_id), watch.describe())
    } finally {
      release()
      receiver.closeAllConnections()
      receiver.close()
      await Promise.all([watch.close(), all.close()])
    }
  })

  test("another user's stream never carries this user's runs", async () => {
    const mine = await quietJob()
    const theirs = await quietJob(other)
    const watch = new Watch((options) => other.watchRuns(options))
    try {
      await watch.opened()
      const myRun = await client.triggerJob(mine)
      // Their own run, started after mine: once it has ended, mine would have shown up if it could.
      await eventually('my run to end', async () => (await client.getRun(myRun.run_id)).run.finished_at)
      const theirRun = await other.triggerJob(theirs)
      await watch.ended(theirRun.run_id)
      assert.ok(watch.events.every((e) => !('run' in e) || e.run.user_id === OTHER_USER), watch.describe())
      assert.deepEqual(watch.runEvents(myRun.run_id), [])
    } finally {
      await watch.close()
    }
  })

  test('the runs of a deleted job are told gone, by their ids', async () => {
    const jobId = await quietJob()
    const watch = new Watch((options) => client.watchRuns(options))
    try {
      await watch.opened()
      const { run_id } = await client.triggerJob(jobId)
      await watch.ended(run_id)
      await client.deleteJob(jobId)
      await watch.until('the run to be told deleted', (w) => w.events.some((e) => e.type === 'run.deleted'))
      assert.deepEqual(
        watch.events.filter((e) => e.type === 'run.deleted').map((e) => ('run_id' in e ? e.run_id : e)),
        [run_id],
      )
    } finally {
      await watch.close()
    }
  })

  test("no stream of someone else's job or run, nor of a job that does not exist", async () => {
    const jobId = await quietJob()
    const { run_id } = await client.triggerJob(jobId)
    for (const [options, status] of [
      [{ jobId }, 403],
      [{ runId: run_id }, 403],
      [{ jobId: uniqueId('nope') }, 404],
    ] as const) {
      const watch = new Watch((more) => other.watchRuns({ ...options, ...more }))
      await watch.until('the refusal', (w) => w.states.includes('closed'))
      assert.ok(watch.error instanceof VingineError, `expected a VingineError, got ${watch.error}`)
      assert.equal(watch.error.status, status)
      await watch.close()
    }
  })

  test('resuming after the last event seen gets what was missed, in order, and nothing from before', async () => {
    const jobId = await quietJob()
    const first = new Watch((options) => client.watchRuns({ jobId, ...options }))
    let lastEventId: string
    let missed: string
    try {
      await first.opened()
      const seen = await client.triggerJob(jobId)
      await first.ended(seen.run_id)
      lastEventId = first.events.at(-1)!.id
    } finally {
      await first.close()
    }
    // While nobody listens:
    missed = (await client.triggerJob(jobId)).run_id
    await eventually('the missed run to end', async () => (await client.getRun(missed)).run.finished_at)

    const resumed = new Watch((options) => client.watchRuns({ jobId, lastEventId, ...options }))
    try {
      await resumed.ended(missed)
      const events = resumed.events.filter((e): e is RunEvent => 'run' in e)
      assert.deepEqual(kinds(events), ['run.created', 'run.started', 'run.ended'], resumed.describe())
      assert.ok(events.every((e) => e.run.run_id === missed))
    } finally {
      await resumed.close()
    }
  })

  test('a dropped connection is made again, resuming after the last event it carried', async () => {
    const jobId = await quietJob()
    const resumedAfter: Array<string | null> = []
    let cut: (() => void) | undefined
    // The network between the client and the stream server, and a way to cut it mid-stream.
    const fetchCut: typeof fetch = async (input, init) => {
      resumedAfter.push(new Headers(init?.headers).get('Last-Event-ID'))
      const response = await fetch(input, init)
      if (!response.body) return response
      const upstream = response.body.getReader()
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          cut = () => {
            upstream.cancel().catch(() => {})
            controller.error(new TypeError('connection reset'))
          }
        },
        async pull(controller) {
          const { done, value } = await upstream.read().catch(() => ({ done: true, value: undefined }))
          if (done) controller.close()
          else controller.enqueue(value)
        },
      })
      return new Response(body, { status: response.status, headers: response.headers })
    }
    const watch = new Watch((options) => client.watchRuns({ jobId, fetch: fetchCut, ...options }))
    try {
      await watch.opened()
      const before = await client.triggerJob(jobId)
      await watch.ended(before.run_id)
      const lastSeen = watch.events.at(-1)!.id
      cut!()
      await watch.until('the stream to reconnect', (w) => w.states.includes('reconnecting'))
      const afterCut = await client.triggerJob(jobId)
      await watch.ended(afterCut.run_id)

      assert.deepEqual(resumedAfter, [null, lastSeen])
      assert.deepEqual(kinds(watch.runEvents(afterCut.run_id)), ['run.created', 'run.started', 'run.ended'])
      assert.deepEqual(kinds(watch.runEvents(before.run_id)), ['run.created', 'run.started', 'run.ended'], 'no event twice')
    } finally {
      await watch.close()
    }
  })

  test('a refused stream token gets a new stream URL; an unreachable API is asked again', async () => {
    const jobId = await quietJob()
    // A port nothing listens on: taken, then given back.
    const closed = createServer()
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done))
    const { port } = closed.address() as AddressInfo
    await new Promise((done) => closed.close(done))
    const { token } = await signIn(USER)
    const unreachable = createVingineClient({ baseUrl: `http://127.0.0.1:${port}`, token })

    let asked = 0
    const streamUrl = async () => {
      asked++
      if (asked === 2) return (await unreachable.createStreamToken({ job_id: jobId })).url // fails: no connection
      const { url } = await client.createStreamToken({ job_id: jobId })
      if (asked > 1) return url
      const expired = new URL(url)
      expired.searchParams.set('token', 'expired') // the stream server answers 401
      return expired.toString()
    }
    const watch = new Watch((options) => watchRuns({ streamUrl, retryMs: 100, ...options }))
    try {
      await watch.opened()
      const { run_id } = await client.triggerJob(jobId)
      await watch.ended(run_id)
      assert.equal(asked, 3)
      assert.deepEqual(watch.states.slice(0, 3), ['connecting', 'reconnecting', 'open'])
    } finally {
      await watch.close()
    }
  })
})

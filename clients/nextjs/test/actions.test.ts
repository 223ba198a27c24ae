// The server actions ('use server' module) against the live stack, on plain Node: no next package.
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import * as actions from '../src/actions/cron.js'
import { setSessionProvider, type Session } from '../src/index.js'
import { ECHO_STEPS, eventually, signIn, uniqueId, USER } from './helpers.js'

let session: Session | null

function ok<T>(result: actions.ActionResult<T>): T {
  assert.ok(result.success, `expected success, got ${JSON.stringify(result)}`)
  return result.data
}

before(async () => {
  session = { userId: USER, accessToken: (await signIn(USER)).token }
  setSessionProvider(() => session)
})

describe('server actions', () => {
  test('the module is a server module whose exports are all async functions', async () => {
    const source = await import('node:fs').then((fs) => fs.readFileSync(new URL('../../src/actions/cron.ts', import.meta.url), 'utf8'))
    assert.match(source, /^'use server'\n/)
    for (const [name, value] of Object.entries(actions)) {
      assert.equal(typeof value, 'function', `${name} is a function`)
      assert.equal(value.constructor.name, 'AsyncFunction', `${name} is async, as Next.js requires of server actions`)
    }
  })

  test('every endpoint, through the actions, as the app would call them', async () => {
    const workflowId = uniqueId('wf-actions')
    const jobId = uniqueId('daily-video')
    const intervalId = uniqueId('hourly-check')

    ok(await actions.saveWorkflow({ workflow_id: workflowId, name: 'Video', steps: ECHO_STEPS }))
    assert.ok(ok(await actions.listWorkflows()).workflows.some((w) => w.workflow_id === workflowId))
    assert.equal(ok(await actions.getWorkflow(workflowId)).workflow.workflow_id, workflowId)

    const created = ok(
      await actions.createCronJob({
        job_id: jobId,
        workflow_id: workflowId,
        user_id: USER,
        input: 'Generate daily tech news video',
        cron_expression: '0 9 * * *',
      }),
    )
    assert.equal(created.message, `Cron job ${jobId} created successfully`)
    ok(await actions.createIntervalJob({ job_id: intervalId, workflow_id: workflowId, user_id: USER, hours: 1, minutes: 30 }))

    const listed = ok(await actions.listCronJobs())
    assert.deepEqual(
      listed.jobs.filter((j) => [jobId, intervalId].includes(j.job_id)).map((j) => j.description).sort(),
      ['At 09:00', 'Every 1 hour 30 minutes'],
    )
    assert.equal(ok(await actions.listCronJobs({ limit: 1 })).jobs.length, 1)
    assert.equal(ok(await actions.getCronJob(jobId)).job.schedule, '0 9 * * *')
    assert.equal(ok(await actions.previewSchedule({ cron_expression: '0 9 * * *', count: 2 })).next_run_times.length, 2)

    const triggered = ok(await actions.triggerCronJob(jobId))
    const run = await eventually('the triggered run to finish', async () => {
      const current = ok(await actions.getRun(triggered.run_id)).run
      return current.status === 'succeeded' && current
    })
    assert.equal(run.output, 'Video about Generate daily tech news video')
    const runs = ok(await actions.listCronJobRuns(jobId))
    assert.equal(runs.total_runs, 1)
    assert.equal(runs.runs[0]!.run_id, triggered.run_id)

    assert.equal(ok(await actions.pauseCronJob(jobId)).message, `Job ${jobId} paused successfully`)
    assert.equal(ok(await actions.resumeCronJob(jobId)).message, `Job ${jobId} resumed successfully`)

    const manual = ok(await actions.runWorkflow(workflowId, { input: 'bats' })).run
    assert.equal(manual.trigger, 'manual')

    // The stream URL an action hands the browser opens a stream of the job's runs.
    const stream = ok(await actions.createStreamToken({ job_id: jobId }))
    assert.equal(stream.job_id, jobId)
    const opened = await fetch(stream.url, { headers: { Accept: 'text/event-stream' } })
    assert.equal(opened.status, 200)
    assert.match(opened.headers.get('Content-Type') ?? '', /^text\/event-stream/)
    await opened.body?.cancel()
    assert.equal((await actions.createStreamToken({ job_id: uniqueId('nope') })).success, false)

    assert.equal(ok(await actions.deleteCronJob(jobId)).message, `Job ${jobId} deleted successfully`)
    ok(await actions.deleteCronJob(intervalId))
    ok(await actions.deleteWorkflow(workflowId))
  })

  test("runs: rerun and cancel, backfill and cancel a job's runs, with idempotency keys", async () => {
    const workflowId = uniqueId('wf-runs')
    const jobId = uniqueId('yearly')
    ok(await actions.saveWorkflow({ workflow_id: workflowId, name: 'Video', steps: ECHO_STEPS }))
    ok(await actions.createCronJob({ job_id: jobId, workflow_id: workflowId, input: 'moths', cron_expression: '@yearly' }))

    const key = uniqueId('key')
    const triggered = ok(await actions.triggerCronJob(jobId, { idempotencyKey: key }))
    assert.equal(ok(await actions.triggerCronJob(jobId, { idempotencyKey: key })).run_id, triggered.run_id)
    assert.deepEqual(await actions.runWorkflow(workflowId, { input: 'moths' }, { idempotencyKey: key }), {
      success: false,
      error:
        `Idempotency-Key ${key} was used for a different request (another endpoint or body) within 24 h; ` +
        'send a new key for a new request',
      status: 409,
    })
    await eventually('the triggered run to succeed', async () => ok(await actions.getRun(triggered.run_id)).run.status === 'succeeded')

    const rerun = ok(await actions.rerunRun(triggered.run_id, { idempotencyKey: uniqueId('key') })).run
    assert.deepEqual([rerun.trigger, rerun.rerun_of], ['rerun', triggered.run_id])
    await eventually('the rerun to succeed', async () => ok(await actions.getRun(rerun.run_id)).run.status === 'succeeded')
    assert.deepEqual(await actions.cancelRun(rerun.run_id), {
      success: false,
      error: `Run ${rerun.run_id} already ended (succeeded); there is nothing to cancel`,
      status: 409,
    })

    // The last slot of @yearly is in the past; the one after it is the job's next.
    const newYear = Date.UTC(new Date().getUTCFullYear(), 0, 1)
    const range = { start: new Date(newYear - 60_000).toISOString(), end: new Date(newYear).toISOString() }
    const backfilled = ok(await actions.backfillCronJob(jobId, range, { idempotencyKey: uniqueId('key') }))
    assert.equal(backfilled.runs_created, 1)
    const cancelled = ok(await actions.cancelCronJobRuns(jobId))
    assert.equal(cancelled.job_id, jobId)
    const [backfillRun] = backfilled.run_ids
    await eventually('the backfill run to end', async () => ok(await actions.getRun(backfillRun!)).run.finished_at)

    ok(await actions.deleteCronJob(jobId))
    ok(await actions.deleteWorkflow(workflowId))
  })

  test('tags, run lists, history, notifications and the signing secret, through the actions', async () => {
    const workflowId = uniqueId('wf-lists')
    const jobId = uniqueId('tagged')
    const tag = uniqueId('tag')
    ok(await actions.saveWorkflow({ workflow_id: workflowId, name: 'Video', steps: ECHO_STEPS, tags: [tag] }))
    ok(await actions.createCronJob({ job_id: jobId, workflow_id: workflowId, input: 'ants', cron_expression: '@yearly', tags: [tag] }))
    assert.deepEqual(ok(await actions.listCronJobs({ tag })).jobs.map((j) => j.job_id), [jobId])

    const triggered = ok(await actions.triggerCronJob(jobId))
    await eventually('the triggered run to succeed', async () => ok(await actions.getRun(triggered.run_id)).run.status === 'succeeded')
    assert.deepEqual(ok(await actions.listRuns({ tag, status: 'succeeded' })).runs.map((r) => r.run_id), [triggered.run_id])
    assert.equal(ok(await actions.listCronJobRuns(jobId, { status: 'failed' })).total_runs, 0)
    assert.deepEqual(ok(await actions.getCronJobHistory(jobId)).events.map((e) => e.action), ['triggered', 'created'])
    assert.deepEqual(ok(await actions.listCronJobNotifications(jobId)).notifications, [])
    assert.match(ok(await actions.getSigningSecret()).secret, /^whsec_/)

    ok(await actions.deleteCronJob(jobId))
    ok(await actions.deleteWorkflow(workflowId))
  })

  test("the API's errors come back as { success: false, error: detail }", async () => {
    const missing = uniqueId('missing')
    assert.deepEqual(await actions.triggerCronJob(missing), {
      success: false,
      error: `Job ${missing} not found`,
      status: 404,
    })
    assert.deepEqual(await actions.listAllCronJobs(), {
      success: false,
      error: 'Only operators (staff users) can list all jobs',
      status: 403,
    })
  })

  test("as in the spec: another user's user_id is refused before the API is called", async () => {
    const result = await actions.createCronJob({
      job_id: uniqueId('not-mine'),
      workflow_id: 'whatever',
      user_id: 'someone-else',
      cron_expression: '0 9 * * *',
    })
    assert.deepEqual(result, { success: false, error: 'Unauthorized' })
  })

  test('without a session: Not authenticated', async () => {
    const saved = session
    session = null
    try {
      assert.deepEqual(await actions.listCronJobs(), { success: false, error: 'Not authenticated' })
    } finally {
      session = saved
    }
  })

  test('an unreachable API is an error result, not a throw', async () => {
    const saved = process.env.VINGINE_API_URL
    process.env.VINGINE_API_URL = 'http://127.0.0.1:9' // discard port: nothing answers
    try {
      const result = await actions.listCronJobs()
      assert.equal(result.success, false)
    } finally {
      process.env.VINGINE_API_URL = saved
    }
  })
})

// The typed client against the live stack (web + worker + beat started by scripts/test-live.mjs).
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { createVingineClient, VingineError, type Run, type VingineClient } from '../src/index.js'
import { API_URL, ECHO_STEPS, eventually, OTHER_USER, PASSWORD, STAFF, USER, signIn, uniqueId } from './helpers.js'

let client: VingineClient
let workflowId: string
let slowWorkflowId: string

// Long enough to be cancelled mid-run: the test stack's worker (prefork) stops a run between steps.
const SLOW_STEPS = [
  { type: 'python', callable: 'sleep', seconds: 3 },
  { type: 'python', callable: 'echo' },
]

async function refused(call: Promise<unknown>, status: number, detail?: string): Promise<void> {
  await assert.rejects(call, (error: unknown) => {
    assert.ok(error instanceof VingineError, `expected a VingineError, got ${error}`)
    assert.equal(error.status, status)
    if (detail !== undefined) assert.equal(error.detail, detail)
    return true
  })
}

before(async () => {
  client = (await signIn(USER)).client
  workflowId = uniqueId('wf')
  await client.saveWorkflow({ workflow_id: workflowId, name: 'Video', steps: ECHO_STEPS })
  slowWorkflowId = uniqueId('wf-slow')
  await client.saveWorkflow({ workflow_id: slowWorkflowId, name: 'Slow', steps: SLOW_STEPS })
})

async function ended(run_id: string, status: Run['status']): Promise<Run> {
  return eventually(`run ${run_id} to end ${status}`, async () => {
    const { run } = await client.getRun(run_id)
    if (run.finished_at && run.status !== status) throw new Error(`run ${run_id} ended ${run.status}, not ${status}`)
    return run.status === status && run
  })
}

describe('auth', () => {
  test('a refresh token buys a new access token that works', async () => {
    const anonymous = createVingineClient({ baseUrl: API_URL })
    const pair = await anonymous.obtainToken({ username: USER, password: PASSWORD })
    const { access } = await anonymous.refreshToken(pair.refresh)
    const jobs = await createVingineClient({ baseUrl: API_URL, token: access }).listJobs()
    assert.equal(jobs.user_id, USER)
  })

  test('a wrong password and a missing token are 401s with a detail', async () => {
    const anonymous = createVingineClient({ baseUrl: API_URL })
    await refused(anonymous.obtainToken({ username: USER, password: 'wrong' }), 401)
    await refused(anonymous.listJobs(), 401, 'Authentication credentials were not provided.')
  })

  test('the token may come from a function asked on every request', async () => {
    const { token } = await signIn(USER)
    let asked = 0
    const lazy = createVingineClient({ baseUrl: API_URL, token: async () => (asked++, token) })
    await lazy.listJobs()
    await lazy.listWorkflows()
    assert.equal(asked, 2)
  })
})

describe('jobs', () => {
  test('a cron job: created with the spec example, described, listed, fetched, paused, resumed, deleted', async () => {
    const jobId = uniqueId('daily-video-generation')
    const created = await client.createCronJob({
      job_id: jobId,
      workflow_id: workflowId,
      user_id: USER,
      input: 'Generate video about tech news',
      cron_expression: '0 9 * * 1-5',
      timezone: 'Europe/Paris',
    })
    assert.equal(created.message, `Cron job ${jobId} created successfully`)
    assert.equal(created.job.schedule, '0 9 * * 1-5')
    assert.equal(created.job.description, 'At 09:00, Monday through Friday')
    assert.equal(created.job.timezone, 'Europe/Paris')
    assert.equal(created.job.last_run_time, null)
    const next = new Date(created.job.next_run_time!)
    assert.ok(next > new Date(), 'next_run_time is in the future')
    assert.match(created.job.next_run_time!, /T09:00:00\+0[12]:00$/)

    assert.equal((await client.getJob(jobId)).job.job_id, jobId)
    assert.equal((await client.pauseJob(jobId)).message, `Job ${jobId} paused successfully`)
    assert.equal((await client.getJob(jobId)).job.next_run_time, null)
    await client.resumeJob(jobId)
    assert.equal((await client.getJob(jobId)).job.paused, false)
    assert.equal((await client.deleteJob(jobId)).job_id, jobId)
    await refused(client.getJob(jobId), 404, `Job ${jobId} not found`)
  })

  test('an interval job is fired by beat and run by the worker; the job shows its last run', async () => {
    const jobId = uniqueId('every-second')
    const created = await client.createIntervalJob({ job_id: jobId, workflow_id: workflowId, input: 'cats', seconds: 1 })
    assert.equal(created.job.description, 'Every 1 second')
    const runs = await eventually('a succeeded scheduled run', async () => {
      const page = await client.listJobRuns(jobId)
      return page.runs.some((run) => run.trigger === 'schedule' && run.status === 'succeeded') && page
    })
    const run = runs.runs.find((r) => r.status === 'succeeded')!
    assert.equal(run.output, 'Video about cats')
    assert.ok(run.scheduled_for)
    const job = (await client.getJob(jobId)).job
    assert.ok(job.last_run_status, 'the job carries its newest run status')
    assert.ok(job.last_run_time)
    await client.deleteJob(jobId)
  })

  test('trigger queues a run now; the worker runs it', async () => {
    const jobId = uniqueId('manual')
    await client.createCronJob({ job_id: jobId, workflow_id: workflowId, input: 'dogs', cron_expression: '@yearly' })
    const triggered = await client.triggerJob(jobId)
    assert.equal(triggered.message, `Job ${jobId} triggered successfully`)
    const run = await eventually('the triggered run to succeed', async () => {
      const { run } = await client.getRun(triggered.run_id)
      return run.status === 'succeeded' && run
    })
    assert.equal(run.trigger, 'manual')
    assert.equal(run.output, 'Video about dogs')
    await client.deleteJob(jobId)
  })

  test('lists are paged with limit and offset; total_jobs counts them all', async () => {
    const ids = [uniqueId('page-a'), uniqueId('page-b'), uniqueId('page-c')].sort()
    for (const id of ids) await client.createCronJob({ job_id: id, workflow_id: workflowId, cron_expression: '0 0 * * *' })
    const all = await client.listJobs()
    const mine = all.jobs.map((job) => job.job_id).filter((id) => ids.includes(id))
    assert.deepEqual(mine, ids)
    const page = await client.listJobs({ limit: 1, offset: 1 })
    assert.equal(page.total_jobs, all.total_jobs)
    assert.deepEqual(page.jobs.map((job) => job.job_id), [all.jobs[1]!.job_id])
    await refused(client.listJobs({ limit: 0 }), 400, 'limit must be a whole number from 1 to 1000')
    for (const id of ids) await client.deleteJob(id)
  })

  test('bad input is a 400 with the API\'s text, and nothing is created', async () => {
    const jobId = uniqueId('bad')
    await refused(
      client.createCronJob({ job_id: jobId, workflow_id: workflowId, cron_expression: '0 9' }),
      400,
      'Invalid cron expression: 0 9. Expected 5 parts (minute hour day month day_of_week)',
    )
    await refused(client.getJob(jobId), 404)
  })

  test("another user's job is a 403; the operators' list is staff only", async () => {
    const jobId = uniqueId('private')
    await client.createCronJob({ job_id: jobId, workflow_id: workflowId, cron_expression: '0 9 * * *' })
    const other = (await signIn(OTHER_USER)).client
    await refused(other.triggerJob(jobId), 403, "You don't have permission to trigger this job")
    await refused(other.listAllJobs(), 403)
    const staff = (await signIn(STAFF)).client
    const everything = await staff.listAllJobs({ limit: 1000 })
    assert.ok(everything.jobs.some((job) => job.job_id === jobId))
    await client.deleteJob(jobId)
  })
})

describe('preview', () => {
  test('cron: the next times in the zone and a description', async () => {
    const preview = await client.previewSchedule({ cron_expression: '0 9 * * 1-5', timezone: 'America/New_York', count: 3 })
    assert.equal(preview.description, 'At 09:00, Monday through Friday')
    assert.equal(preview.next_run_times.length, 3)
    for (const time of preview.next_run_times) {
      assert.match(time, /T09:00:00-0[45]:00$/)
      const weekday = new Date(time).getUTCDay()
      assert.ok(weekday >= 1 && weekday <= 5, `${time} is a weekday`)
    }
  })

  test('interval: one interval apart, from now', async () => {
    const before = Date.now()
    const preview = await client.previewSchedule({ interval: { hours: 1, minutes: 30 } })
    assert.equal(preview.description, 'Every 1 hour 30 minutes')
    const times = preview.next_run_times.map((t) => new Date(t).getTime())
    assert.equal(times.length, 5)
    assert.ok(times[0]! >= before + 90 * 60_000 - 1000 && times[0]! <= Date.now() + 90 * 60_000 + 1000)
    for (let i = 1; i < times.length; i++) assert.equal(times[i]! - times[i - 1]!, 90 * 60_000)
  })

  test('both or neither schedule is a 400', async () => {
    await refused(client.previewSchedule({}), 400, 'body: give exactly one of cron_expression or interval')
  })
})

describe('workflows and runs', () => {
  test('save, list, get, run, and delete (refused while a job uses it)', async () => {
    const id = uniqueId('wf-life')
    const saved = await client.saveWorkflow({ workflow_id: id, name: 'Life', steps: ECHO_STEPS })
    assert.equal(saved.message, `Workflow ${id} saved successfully`)
    assert.ok((await client.listWorkflows({ limit: 1000 })).workflows.some((w) => w.workflow_id === id))
    assert.deepEqual((await client.getWorkflow(id)).workflow.steps, ECHO_STEPS)

    const { run } = await client.runWorkflow(id, { input: 'owls' })
    const done = await eventually('the manual run to succeed', async () => {
      const current = (await client.getRun(run.run_id)).run
      return current.status === 'succeeded' && current
    })
    assert.equal(done.output, 'Video about owls')

    const jobId = uniqueId('uses-wf')
    await client.createCronJob({ job_id: jobId, workflow_id: id, cron_expression: '0 9 * * *' })
    await refused(client.deleteWorkflow(id), 409)
    await client.deleteJob(jobId)
    assert.equal((await client.deleteWorkflow(id)).workflow_id, id)
    await refused(client.getWorkflow(id), 404, `Workflow ${id} not found`)
  })
})

describe('cancel, rerun and backfill', () => {
  test('cancel: a running run is stopped by its worker and ends cancelled', async () => {
    const { run } = await client.runWorkflow(slowWorkflowId, { input: 'slow' })
    await eventually('the run to start', async () => (await client.getRun(run.run_id)).run.status === 'running')
    const answer = await client.cancelRun(run.run_id)
    assert.equal(answer.run.run_id, run.run_id)
    assert.equal(answer.run.cancelled_by, USER)
    assert.ok(answer.run.cancelled_at)
    const done = await ended(run.run_id, 'cancelled')
    assert.equal(done.cancelled_by, USER)
    assert.ok(done.finished_at)
  })

  test('cancelling a run that has ended is a 409', async () => {
    const { run } = await client.runWorkflow(workflowId, { input: 'finished' })
    await ended(run.run_id, 'succeeded')
    await refused(
      client.cancelRun(run.run_id),
      409,
      `Run ${run.run_id} already ended (succeeded); there is nothing to cancel`,
    )
  })

  test('rerun: a new run of the same workflow and input; the original is left as it was', async () => {
    const { run } = await client.runWorkflow(workflowId, { input: 'herons' })
    const original = await ended(run.run_id, 'succeeded')
    const rerun = (await client.rerunRun(run.run_id)).run
    assert.notEqual(rerun.run_id, run.run_id)
    assert.equal(rerun.trigger, 'rerun')
    assert.equal(rerun.rerun_of, run.run_id)
    assert.equal(rerun.workflow_id, workflowId)
    const done = await ended(rerun.run_id, 'succeeded')
    assert.equal(done.output, 'Video about herons')
    assert.deepEqual((await client.getRun(run.run_id)).run, original)
  })

  test("backfill: one run per past slot, once; the job's runs are cancelled together", async () => {
    // Paused before its next slot, the job fires no run of its own while its runs are counted.
    const untilNextMinute = 60_000 - (Date.now() % 60_000)
    if (untilNextMinute < 5_000) await new Promise((done) => setTimeout(done, untilNextMinute))
    const jobId = uniqueId('backfill')
    await client.createCronJob({ job_id: jobId, workflow_id: slowWorkflowId, input: 'past', cron_expression: '* * * * *' })
    await client.pauseJob(jobId)
    const minute = Math.floor(Date.now() / 60_000) * 60_000
    const slots = [3, 2, 1].map((ago) => minute - ago * 60_000)
    const range = { start: new Date(slots[0]!).toISOString(), end: new Date(slots[2]!).toISOString() }

    const backfilled = await client.backfillJob(jobId, range)
    assert.equal(backfilled.job_id, jobId)
    assert.equal(backfilled.runs_created, 3)
    assert.equal(backfilled.slots_already_run, 0)
    assert.equal(backfilled.run_ids.length, 3)
    const { runs } = await client.listJobRuns(jobId)
    assert.deepEqual(runs.map((run) => run.run_id).sort(), [...backfilled.run_ids].sort())
    assert.ok(runs.every((run) => run.trigger === 'backfill'))
    assert.deepEqual(runs.map((run) => new Date(run.scheduled_for!).getTime()).sort((a, b) => a - b), slots)

    const again = await client.backfillJob(jobId, range)
    assert.equal(again.runs_created, 0)
    assert.equal(again.slots_already_run, 3)

    // Backfill runs of a job with overlap skip go one at a time: one running, the others waiting.
    const cancelled = await client.cancelJobRuns(jobId)
    assert.equal(cancelled.job_id, jobId)
    assert.equal(cancelled.cancelled + cancelled.stopping, 3)
    for (const run_id of backfilled.run_ids) await ended(run_id, 'cancelled')
    const none = await client.cancelJobRuns(jobId)
    assert.deepEqual([none.cancelled, none.stopping], [0, 0])
    await client.deleteJob(jobId)
  })

  test('backfill refuses an end in the future', async () => {
    const jobId = uniqueId('backfill-future')
    await client.createCronJob({ job_id: jobId, workflow_id: workflowId, cron_expression: '@yearly' })
    const range = { start: new Date(Date.now() - 60_000).toISOString(), end: new Date(Date.now() + 60_000).toISOString() }
    const detail = 'end must not be in the future: a backfill runs slots that have passed'
    await refused(client.backfillJob(jobId, range), 400, detail)
    assert.equal((await client.listJobRuns(jobId)).total_runs, 0)
    await client.deleteJob(jobId)
  })
})

describe('idempotency keys', () => {
  test('trigger: the same key twice starts one run; the same key for another request is a 409', async () => {
    const jobId = uniqueId('keyed')
    await client.createCronJob({ job_id: jobId, workflow_id: workflowId, input: 'once', cron_expression: '@yearly' })
    const key = uniqueId('key')
    const first = await client.triggerJob(jobId, { idempotencyKey: key })
    const again = await client.triggerJob(jobId, { idempotencyKey: key })
    assert.deepEqual(again, first)
    const other = await client.triggerJob(jobId, { idempotencyKey: uniqueId('key') })
    assert.notEqual(other.run_id, first.run_id)
    await refused(
      client.runWorkflow(workflowId, { input: 'once' }, { idempotencyKey: key }),
      409,
      `Idempotency-Key ${key} was used for a different request (another endpoint or body) within 24 h; ` +
        'send a new key for a new request',
    )
    await ended(first.run_id, 'succeeded')
    await ended(other.run_id, 'succeeded')
    assert.equal((await client.listJobRuns(jobId)).total_runs, 2)
    await client.deleteJob(jobId)
  })

  test('run a workflow: the same key and body give the same run; another body is a 409', async () => {
    const key = uniqueId('key')
    const { run } = await client.runWorkflow(workflowId, { input: 'geese' }, { idempotencyKey: key })
    const again = (await client.runWorkflow(workflowId, { input: 'geese' }, { idempotencyKey: key })).run
    assert.equal(again.run_id, run.run_id)
    await refused(client.runWorkflow(workflowId, { input: 'ducks' }, { idempotencyKey: key }), 409)
    await ended(run.run_id, 'succeeded')
  })

  test('rerun: the same key twice gives the same new run', async () => {
    const { run } = await client.runWorkflow(workflowId, { input: 'swans' })
    await ended(run.run_id, 'succeeded')
    const key = uniqueId('key')
    const first = (await client.rerunRun(run.run_id, { idempotencyKey: key })).run
    const again = (await client.rerunRun(run.run_id, { idempotencyKey: key })).run
    assert.equal(again.run_id, first.run_id)
    await ended(first.run_id, 'succeeded')
  })
})

describe('tags, run lists and history', () => {
  test('a job keeps its tags and metadata; the job lists filter by tag; its runs carry the tags', async () => {
    const tag = uniqueId('tag')
    const jobId = uniqueId('tagged')
    const otherId = uniqueId('untagged')
    const metadata = { team: 'growth', priority: 2, channels: ['web'] }
    const created = await client.createCronJob({
      job_id: jobId,
      workflow_id: workflowId,
      input: 'larks',
      cron_expression: '@yearly',
      tags: [tag, 'video', tag],
      metadata,
    })
    assert.deepEqual(created.job.tags, [tag, 'video'])
    assert.deepEqual(created.job.metadata, metadata)
    const fetched = (await client.getJob(jobId)).job
    assert.deepEqual([fetched.tags, fetched.metadata], [[tag, 'video'], metadata])
    await client.createCronJob({ job_id: otherId, workflow_id: workflowId, cron_expression: '@yearly', tags: ['video'] })

    const tagged = await client.listJobs({ tag })
    assert.deepEqual(tagged.jobs.map((job) => job.job_id), [jobId])
    assert.equal(tagged.total_jobs, 1)
    assert.deepEqual((await client.listJobs({ tag: [tag, 'video'], limit: 10 })).jobs.map((job) => job.job_id), [jobId])
    assert.equal((await client.listJobs({ tag: [tag, 'audio'] })).total_jobs, 0)
    const staff = (await signIn(STAFF)).client
    assert.deepEqual((await staff.listAllJobs({ tag })).jobs.map((job) => job.job_id), [jobId])
    await refused(client.listJobs({ tag: 'two words' }), 400)

    const { run_id } = await client.triggerJob(jobId)
    const run = await ended(run_id, 'succeeded')
    assert.deepEqual(run.tags, [tag, 'video'])
    const ids = (page: { runs: Run[] }) => page.runs.map((r) => r.run_id)
    assert.deepEqual(ids(await client.listJobRuns(jobId, { tag, status: 'succeeded' })), [run_id])
    assert.equal((await client.listJobRuns(jobId, { status: ['failed', 'cancelled'] })).total_runs, 0)
    assert.equal((await client.listJobRuns(jobId, { since: new Date(Date.now() + 60_000) })).total_runs, 0)
    // An offset with a + must reach the API intact.
    assert.deepEqual(ids(await client.listJobRuns(jobId, { since: '2000-01-01T00:00:00+02:00', until: new Date(Date.now() + 60_000) })), [run_id])
    assert.deepEqual(ids(await client.listRuns({ tag })), [run_id])
    assert.deepEqual(ids(await client.listRuns({ job_id: jobId })), [run_id])
    await refused(client.listRuns({ since: '2025-06-01T09:00:00' }), 400)

    await client.deleteJob(jobId)
    await client.deleteJob(otherId)
  })

  test("listRuns: the caller's own runs, in the statuses asked for", async () => {
    const failSteps = [{ type: 'python', callable: 'fail', message: 'on purpose' }]
    const failingId = uniqueId('wf-fails')
    await client.saveWorkflow({ workflow_id: failingId, name: 'Fails', steps: failSteps })
    const mine = (await client.runWorkflow(workflowId, { input: 'wrens' })).run
    const failed = (await client.runWorkflow(failingId, { input: 'wrens' })).run
    const other = (await signIn(OTHER_USER)).client
    const theirWorkflow = uniqueId('wf-theirs')
    await other.saveWorkflow({ workflow_id: theirWorkflow, name: 'Theirs', steps: ECHO_STEPS })
    const theirs = (await other.runWorkflow(theirWorkflow, { input: 'crows' })).run
    await ended(mine.run_id, 'succeeded')
    await ended(failed.run_id, 'failed')
    await eventually('their run to succeed', async () => (await other.getRun(theirs.run_id)).run.status === 'succeeded')

    const succeeded = await client.listRuns({ status: 'succeeded', limit: 500 })
    assert.ok(succeeded.runs.every((run) => run.status === 'succeeded' && run.user_id === USER))
    assert.ok(succeeded.total_runs >= succeeded.runs.length)
    const shown = succeeded.runs.map((run) => run.run_id)
    assert.ok(shown.includes(mine.run_id))
    assert.ok(!shown.includes(failed.run_id), 'a failed run is left out')
    assert.ok(!shown.includes(theirs.run_id), "another user's run is left out")
    const either = (await client.listRuns({ status: ['succeeded', 'failed'], limit: 500 })).runs.map((run) => run.run_id)
    assert.ok(either.includes(mine.run_id) && either.includes(failed.run_id))
    const theirList = await other.listRuns({ status: 'succeeded' })
    assert.deepEqual(theirList.runs.map((run) => run.run_id), [theirs.run_id])
    await refused(client.listRuns({ status: 'done' as Run['status'] }), 400)

    await client.deleteWorkflow(failingId)
    await other.deleteWorkflow(theirWorkflow)
  })

  test("a job's history: created, then each change, newest first", async () => {
    const jobId = uniqueId('audited')
    await client.createCronJob({ job_id: jobId, workflow_id: workflowId, cron_expression: '0 8 * * *' })
    await client.pauseJob(jobId)
    await client.resumeJob(jobId)
    await client.createCronJob({ job_id: jobId, workflow_id: workflowId, cron_expression: '0 9 * * *' })

    const history = await client.getJobHistory(jobId)
    assert.equal(history.job_id, jobId)
    assert.equal(history.total_events, 4)
    assert.deepEqual(history.events.map((event) => event.action), ['replaced', 'resumed', 'paused', 'created'])
    assert.ok(history.events.every((event) => event.actor === USER && event.via === 'api'))
    assert.deepEqual(history.events[0]!.changes.cron_expression, ['0 8 * * *', '0 9 * * *'])
    const times = history.events.map((event) => new Date(event.at).getTime())
    assert.deepEqual(times, [...times].sort((a, b) => b - a))

    const last = await client.getJobHistory(jobId, { limit: 1, offset: 3 })
    assert.equal(last.total_events, 4)
    assert.deepEqual(last.events.map((event) => event.action), ['created'])
    await refused((await signIn(OTHER_USER)).client.getJobHistory(jobId), 403)
    await client.deleteJob(jobId)
    await refused(client.getJobHistory(jobId), 404, `Job ${jobId} not found`)
  })
})

describe('notifications and signing secrets', () => {
  test("a failing job notifies its e-mail once and shows failing; the job's notifications list it", async () => {
    const failingId = uniqueId('wf-fails')
    const failSteps = [{ type: 'python', callable: 'fail', message: 'on purpose' }]
    await client.saveWorkflow({ workflow_id: failingId, name: 'Fails', steps: failSteps })
    const jobId = uniqueId('watched')
    const created = await client.createCronJob({
      job_id: jobId,
      workflow_id: failingId,
      cron_expression: '@yearly',
      notify: { email: 'ops@example.com', on: ['failure'] },
    })
    assert.equal((created.job.notify as { email?: string }).email, 'ops@example.com')
    assert.equal(created.job.failing, false)
    assert.deepEqual((await client.listJobNotifications(jobId)).notifications, [])

    const { run_id } = await client.triggerJob(jobId)
    await ended(run_id, 'failed')
    const notifications = await eventually('the failure notification to be sent', async () => {
      const list = await client.listJobNotifications(jobId)
      return list.notifications[0]?.status === 'sent' && list
    })
    assert.equal(notifications.job_id, jobId)
    assert.equal(notifications.notifications.length, 1)
    const [sent] = notifications.notifications
    assert.deepEqual([sent!.event, sent!.channel, sent!.target, sent!.run_id], ['failure', 'email', 'ops@example.com', run_id])
    assert.equal((await client.getJob(jobId)).job.failing, true)
    await client.deleteJob(jobId)
    await client.deleteWorkflow(failingId)
  })

  test("the signing secret is made once and kept; each user has their own", async () => {
    const first = await client.getSigningSecret()
    const again = await client.getSigningSecret()
    assert.equal(again.secret, first.secret)
    assert.equal(again.created_at, first.created_at)
    assert.match(first.secret, /^whsec_[A-Za-z0-9+/]+=*$/)
    assert.equal(Buffer.from(first.secret.slice('whsec_'.length), 'base64').length, 24)
    const theirs = await (await signIn(OTHER_USER)).client.getSigningSecret()
    assert.notEqual(theirs.secret, first.secret)
  })
})

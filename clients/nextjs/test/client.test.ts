// The typed client against the live stack (web + worker + beat started by scripts/test-live.mjs).
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { createVingineClient, VingineError, type VingineClient } from '../src/index.js'
import { API_URL, ECHO_STEPS, eventually, OTHER_USER, PASSWORD, STAFF, USER, signIn, uniqueId } from './helpers.js'

let client: VingineClient
let workflowId: string

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
})

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

// The example Next.js app (example/, built and started by scripts/test-live.mjs) driven in headless
// Chromium: Debian's /usr/bin/chromium through playwright-core, which downloads no browser.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { PASSWORD, USER, signIn, uniqueId } from './helpers.js'

const APP_URL = process.env.VINGINE_EXAMPLE_URL
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
// Where to keep a picture of the page (e.g. docs/img/example-app.png); none unless asked.
const SCREENSHOT = process.env.VINGINE_EXAMPLE_SCREENSHOT
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]
// A loaded two-core machine fires a 1-second job late now and then: wait generously, never on a
// tight schedule.
const RUN_TIMEOUT_MS = 90_000

let browser: Browser
// The page's own error messages (Next.js has an empty role=alert of its own, the route announcer).
const ALERT = (page: Page) => page.locator('main p[role="alert"]')

before(async () => {
  assert.ok(APP_URL, 'VINGINE_EXAMPLE_URL is not set: run the tests with `npm test`, which starts the app')
  // playwright's launch gives the browser a fresh profile (--user-data-dir) of its own each time.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
})

after(async () => {
  await browser?.close()
})

async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 520 } })
  const page = await context.newPage()
  page.setDefaultTimeout(30_000)
  return { context, page }
}

function runRows(page: Page, jobId: string, status?: string) {
  const statusPart = status ? `[data-status="${status}"]` : ''
  return page.locator(`section[aria-labelledby="runs-title"] tr[data-job-id="${jobId}"]${statusPart}`)
}

async function runIds(page: Page, jobId: string): Promise<string[]> {
  return runRows(page, jobId).evaluateAll((rows) => rows.map((row) => row.getAttribute('data-run-id') ?? ''))
}

describe('the example app in Chromium', () => {
  test('sign in, create a 1-second job, and watch its runs succeed live; pause and run it now', async () => {
    const { context, page } = await newPage()
    try {
      await page.goto(APP_URL!)
      await page.getByLabel('Username').fill(USER)
      await page.getByLabel('Password').fill(PASSWORD)
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.getByRole('heading', { name: 'Jobs' }).waitFor()

      // The JWT stays in an httpOnly cookie: the page's scripts cannot read it.
      const cookie = (await context.cookies()).find((c) => c.name === 'vingine_token')
      assert.ok(cookie?.httpOnly, 'the token cookie is httpOnly')
      assert.ok(!(await page.evaluate(() => document.cookie)).includes('vingine_token'))

      // Everything after this happens in one document: a reload would lose the mark.
      await page.evaluate(() => ((window as unknown as { unreloaded: boolean }).unreloaded = true))
      await page.getByTestId('stream-state').filter({ hasText: 'live' }).waitFor()

      const jobId = uniqueId('browser')
      await page.getByLabel('Job id').fill(jobId)
      await page.getByLabel('Every (seconds)').fill('1')
      await page.getByLabel('Input').fill('browser')
      await page.getByRole('button', { name: 'Create job' }).click()
      const jobRow = page.locator(`section[aria-labelledby="jobs-title"] tr[data-job-id="${jobId}"]`)
      await jobRow.or(ALERT(page)).first().waitFor()
      assert.equal(await ALERT(page).count(), 0, `the job was refused: ${await ALERT(page).allTextContents()}`)

      // Runs the server rendered with the page after the job was created may have come from that
      // render; a run that appears later can only have come from the stream.
      const rendered = new Set(await runIds(page, jobId))
      await page.waitForFunction(
        ({ jobId, rendered }) =>
          Array.from(document.querySelectorAll(`section[aria-labelledby="runs-title"] tr[data-job-id="${jobId}"]`)).some(
            (row) => !rendered.includes(row.getAttribute('data-run-id') ?? '') && row.getAttribute('data-status') === 'succeeded',
          ),
        { jobId, rendered: [...rendered] },
        { timeout: RUN_TIMEOUT_MS, polling: 200 },
      )
      const streamed = (await runIds(page, jobId)).filter((id) => !rendered.has(id))
      assert.ok(streamed.length > 0)
      const { client } = await signIn(USER)
      const succeeded = await runRows(page, jobId, 'succeeded').first().getAttribute('data-run-id')
      assert.equal((await client.getRun(succeeded!)).run.status, 'succeeded')

      // Run now: a manual run appears and succeeds, still live.
      await jobRow.getByRole('button', { name: 'Run now' }).click()
      await runRows(page, jobId, 'succeeded').filter({ hasText: 'manual' }).first().waitFor({ timeout: RUN_TIMEOUT_MS })
      assert.equal(await page.evaluate(() => (window as unknown as { unreloaded?: boolean }).unreloaded), true, 'the page never reloaded')
      if (SCREENSHOT) await page.screenshot({ path: SCREENSHOT, fullPage: true })

      // Pause and resume: the job says so, here and in the API.
      await jobRow.getByRole('button', { name: 'Pause' }).click()
      await jobRow.getByRole('button', { name: 'Resume' }).waitFor()
      assert.equal((await client.getJob(jobId)).job.paused, true)
      await jobRow.getByRole('button', { name: 'Resume' }).click()
      await jobRow.getByRole('button', { name: 'Pause' }).waitFor()
      assert.equal((await client.getJob(jobId)).job.paused, false)
      await jobRow.getByRole('button', { name: 'Delete' }).click()
      await jobRow.waitFor({ state: 'detached' })
    } finally {
      await context.close()
    }
  })

  test('a pasted token signs in; a bad one is refused with the API\'s reason', async () => {
    const { context, page } = await newPage()
    try {
      await page.goto(APP_URL!)
      await page.getByLabel('Token').fill('not-a-token')
      await page.getByRole('button', { name: 'Sign in' }).click()
      await ALERT(page).waitFor()
      const { token } = await signIn(USER)
      await page.getByLabel('Token').fill(token)
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.getByRole('heading', { name: 'Jobs' }).waitFor()
      await page.getByRole('button', { name: 'Sign out' }).click()
      await page.getByRole('button', { name: 'Sign in' }).waitFor()
    } finally {
      await context.close()
    }
  })
})

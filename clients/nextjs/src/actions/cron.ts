'use server'
// Server actions for the vingine API: the spec's app/actions/cron.ts, covering every endpoint.
// Each one reads the signed-in user's token on the server (see ../session.ts), calls the API and
// answers { success: true, data } or { success: false, error } (the API's detail), so the token
// never reaches the browser. Next.js runs this file as a server module ('use server'); it imports
// nothing from next, so it runs (and is tested) on plain Node as well.
import {
  createVingineClient,
  VingineError,
  type BackfillRequest,
  type CronJobRequest,
  type IdempotencyOptions,
  type AllRunFilters,
  type IntervalJobRequest,
  type JobListOptions,
  type Page,
  type PreviewRequest,
  type RunFilters,
  type RunRequest,
  type StreamScope,
  type VingineClient,
  type WorkflowRequest,
} from '../client.js'
import { getSession, type Session } from '../session.js'

export type ActionResult<T> = { success: true; data: T } | { success: false; error: string; status?: number }

/** The parameters of the spec's createCronJob: the body of POST /api/cron/jobs/cron. */
export type CronJobParams = CronJobRequest
export type IntervalJobParams = IntervalJobRequest

function apiUrl(): string {
  return process.env.VINGINE_API_URL || process.env.NEXT_PUBLIC_API_URL || 'http://localhost:8000'
}

async function withClient<T>(call: (client: VingineClient, session: Session) => Promise<T>): Promise<ActionResult<T>> {
  try {
    const session = await getSession()
    if (!session) return { success: false, error: 'Not authenticated' }
    const client = createVingineClient({ baseUrl: apiUrl(), token: session.accessToken })
    return { success: true, data: await call(client, session) }
  } catch (error) {
    if (error instanceof VingineError) return { success: false, error: error.detail, status: error.status }
    return { success: false, error: error instanceof Error ? error.message : 'Unknown error' }
  }
}

/** As in the spec: a user_id other than the signed-in user's is refused before the API is called. */
function checkOwnUser(params: { user_id?: string }, session: Session): void {
  if (params.user_id !== undefined && params.user_id !== session.userId) throw new Error('Unauthorized')
}

// --- jobs ---

export async function createCronJob(params: CronJobParams) {
  return withClient((client, session) => {
    checkOwnUser(params, session)
    return client.createCronJob(params)
  })
}

export async function createIntervalJob(params: IntervalJobParams) {
  return withClient((client, session) => {
    checkOwnUser(params, session)
    return client.createIntervalJob(params)
  })
}

export async function listCronJobs(options: JobListOptions = {}) {
  return withClient((client) => client.listJobs(options))
}

export async function listAllCronJobs(options: JobListOptions = {}) {
  return withClient((client) => client.listAllJobs(options))
}

export async function getCronJob(job_id: string) {
  return withClient((client) => client.getJob(job_id))
}

export async function triggerCronJob(job_id: string, options: IdempotencyOptions = {}) {
  return withClient((client) => client.triggerJob(job_id, options))
}

export async function pauseCronJob(job_id: string) {
  return withClient((client) => client.pauseJob(job_id))
}

export async function resumeCronJob(job_id: string) {
  return withClient((client) => client.resumeJob(job_id))
}

export async function deleteCronJob(job_id: string) {
  return withClient((client) => client.deleteJob(job_id))
}

export async function listCronJobRuns(job_id: string, filters: RunFilters = {}) {
  return withClient((client) => client.listJobRuns(job_id, filters))
}

export async function getCronJobHistory(job_id: string, page: Page = {}) {
  return withClient((client) => client.getJobHistory(job_id, page))
}

export async function listCronJobNotifications(job_id: string) {
  return withClient((client) => client.listJobNotifications(job_id))
}

export async function backfillCronJob(job_id: string, params: BackfillRequest, options: IdempotencyOptions = {}) {
  return withClient((client) => client.backfillJob(job_id, params, options))
}

export async function cancelCronJobRuns(job_id: string) {
  return withClient((client) => client.cancelJobRuns(job_id))
}

export async function previewSchedule(params: PreviewRequest) {
  return withClient((client) => client.previewSchedule(params))
}

// --- workflows and runs ---

export async function saveWorkflow(params: WorkflowRequest) {
  return withClient((client) => client.saveWorkflow(params))
}

export async function listWorkflows(page: Page = {}) {
  return withClient((client) => client.listWorkflows(page))
}

export async function getWorkflow(workflow_id: string) {
  return withClient((client) => client.getWorkflow(workflow_id))
}

export async function deleteWorkflow(workflow_id: string) {
  return withClient((client) => client.deleteWorkflow(workflow_id))
}

export async function runWorkflow(workflow_id: string, params: RunRequest = {}, options: IdempotencyOptions = {}) {
  return withClient((client) => client.runWorkflow(workflow_id, params, options))
}

export async function listRuns(filters: AllRunFilters = {}) {
  return withClient((client) => client.listRuns(filters))
}

export async function getRun(run_id: string) {
  return withClient((client) => client.getRun(run_id))
}

export async function cancelRun(run_id: string) {
  return withClient((client) => client.cancelRun(run_id))
}

export async function rerunRun(run_id: string, options: IdempotencyOptions = {}) {
  return withClient((client) => client.rerunRun(run_id, options))
}

// --- live runs ---

/** A URL (with a short-lived token) that opens the user's run stream, or one job's or one run's:
 * hand it to the browser (useRuns' streamUrl from @vingine/client/react) instead of the JWT. */
export async function createStreamToken(scope: StreamScope = {}) {
  return withClient((client) => client.createStreamToken(scope))
}

// --- signed requests ---

// These answer with the secret itself: call them from a page that shows it to its owner, or from
// server code that verifies the app's incoming webhooks.
export async function getSigningSecret() {
  return withClient((client) => client.getSigningSecret())
}

export async function rotateSigningSecret() {
  return withClient((client) => client.rotateSigningSecret())
}

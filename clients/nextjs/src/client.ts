// Typed functions for every endpoint of the vingine API. The types come from src/schema.ts, which
// is generated from the API's OpenAPI schema (npm run generate): a change in the API that breaks
// a caller breaks the build here first.
import createFetchClient from 'openapi-fetch'
import { VingineError } from './errors.js'
import type { components, paths } from './schema.js'
import { watchRuns, type WatchRunsOptions } from './stream.js'

export { VingineError }

type Schemas = components['schemas']
export type Job = Schemas['Job']
export type Run = Schemas['Run']
export type RunStatus = Schemas['RunStatus']
export type Workflow = Schemas['Workflow']
export type ApiError = Schemas['Error']
export type CronJobRequest = Schemas['CronJobInputRequest']
export type IntervalJobRequest = Schemas['IntervalJobInputRequest']
export type PreviewRequest = Schemas['PreviewInputRequest']
export type WorkflowRequest = Schemas['WorkflowInputRequest']
export type RunRequest = Schemas['RunInputRequest']
export type BackfillRequest = Schemas['BackfillInputRequest']
export type Credentials = Schemas['TokenObtainPairRequest']
export type JobSaved = Schemas['JobSaved']
export type JobList = Schemas['JobList']
export type AllJobList = Schemas['AllJobList']
export type JobOne = Schemas['JobOne']
export type JobDone = Schemas['JobDone']
export type JobTriggered = Schemas['JobTriggered']
export type JobRunList = Schemas['JobRunList']
export type JobBackfilled = Schemas['JobBackfilled']
export type RunsCancelled = Schemas['RunsCancelled']
export type Preview = Schemas['Preview']
export type WorkflowSaved = Schemas['WorkflowSaved']
export type WorkflowList = Schemas['WorkflowList']
export type WorkflowOne = Schemas['WorkflowOne']
export type WorkflowDeleted = Schemas['WorkflowDeleted']
export type RunOne = Schemas['RunOne']
export type RunCancelled = Schemas['RunCancelled']
export type TokenPair = Schemas['TokenPair']
export type AccessOnly = Schemas['AccessOnly']
export type RunList = Schemas['RunList']
export type JobHistory = Schemas['JobHistory']
export type JobEvent = Schemas['JobEvent']
export type JobNotificationList = Schemas['JobNotificationList']
export type JobNotification = Schemas['NotificationShown']
export type NotifyRequest = Schemas['NotifyInputRequest']
export type SigningSecret = Schemas['SigningSecretShown']
/** POST /api/stream/token's body: at most one of job_id and run_id. */
export type StreamScope = Schemas['StreamTokenInputRequest']
export type StreamToken = Schemas['StreamTokenIssued']

/** `limit` and `offset` of the list endpoints; the totals in their answers count every item. */
export interface Page {
  limit?: number
  offset?: number
}

/** The job lists' options: with `tag`, only the jobs that have every tag given. */
export interface JobListOptions extends Page {
  tag?: string | string[]
}

/** The run lists' filters; a run must pass each one given. */
export interface RunFilters extends Page {
  /** Runs whose job has every tag given (a run without a job: its workflow's tags). */
  tag?: string | string[]
  /** Runs in any of these statuses. */
  status?: RunStatus | RunStatus[]
  /** Runs recorded at or after this time; a string needs its UTC offset (`2025-06-01T09:00:00Z`). */
  since?: string | Date
  /** Runs recorded before this time. */
  until?: string | Date
}

/** GET /api/runs also narrows the caller's runs to one of their jobs. */
export interface AllRunFilters extends RunFilters {
  job_id?: string
}

/** For the requests that start runs: a retry with the same key gets the first answer again and
 * starts nothing new; the same key with a different request is a 409. Keys are kept for 24 h. */
export interface IdempotencyOptions {
  idempotencyKey?: string
}

/** client.watchRuns: a stream of all the caller's runs, or of one job's (`jobId`) or one run's (`runId`). */
export interface ClientWatchRunsOptions extends Omit<WatchRunsOptions, 'streamUrl'> {
  jobId?: string
  runId?: string
}

/** The bearer token: a string, or a function asked before every request (e.g. from the session). */
export type TokenSource = string | undefined | (() => string | undefined | Promise<string | undefined>)

export interface ClientOptions {
  /** Where the API is, e.g. `http://localhost:8000`. */
  baseUrl: string
  token?: TokenSource
  fetch?: typeof globalThis.fetch
}

function detailOf(error: unknown, response: Response): string {
  if (error && typeof error === 'object' && typeof (error as ApiError).detail === 'string') {
    return (error as ApiError).detail
  }
  return `${response.status} ${response.statusText}`.trim()
}

function asList<T extends string>(value: T | T[] | undefined): T[] | undefined {
  if (value === undefined) return undefined
  return Array.isArray(value) ? value : [value]
}

function asTime(value: string | Date | undefined): string | undefined {
  return value instanceof Date ? value.toISOString() : value
}

function jobListQuery({ tag, ...page }: JobListOptions) {
  return { ...page, tag: asList(tag) }
}

function runQuery<F extends RunFilters>({ tag, status, since, until, ...rest }: F) {
  return { ...rest, tag: asList(tag), status: asList(status), since: asTime(since), until: asTime(until) }
}

/** Retries after a 429 at most this many times, and only when Retry-After asks for at most
 * RETRY_AFTER_MAX_SECONDS: a longer wait (a sign-in locked for minutes) is the caller's to show. */
export const RETRIES_AFTER_429 = 2
export const RETRY_AFTER_MAX_SECONDS = 30

function retryAfterSeconds(response: Response): number | undefined {
  const value = response.headers.get('Retry-After')
  if (value === null || value.trim() === '') return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds)) return Math.max(0, seconds)
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, (at - Date.now()) / 1000)
}

/** A 429 was refused before anything was done, so sending the same request again is safe, even
 * one that starts a run. */
function retryingAfter429(fetchFor: () => typeof globalThis.fetch) {
  return async (request: Request): Promise<Response> => {
    // The body goes as bytes, so with a Content-Length: sent as the Request's stream, it would go
    // chunked from some fetches (Next.js's, on the server), and the API refuses chunked bodies (411).
    const body = request.body ? await request.arrayBuffer() : undefined
    for (let retries = 0; ; retries++) {
      const response = await fetchFor()(request.url, {
        method: request.method,
        headers: request.headers,
        body,
        signal: request.signal,
      })
      if (response.status !== 429 || retries >= RETRIES_AFTER_429) return response
      const wait = retryAfterSeconds(response)
      if (wait === undefined || wait > RETRY_AFTER_MAX_SECONDS) return response
      await response.body?.cancel()
      await new Promise((resolve) => setTimeout(resolve, wait * 1000))
    }
  }
}

export function createVingineClient(options: ClientOptions) {
  const api = createFetchClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    fetch: retryingAfter429(() => options.fetch ?? globalThis.fetch),
  })
  api.use({
    async onRequest({ request }) {
      const token = typeof options.token === 'function' ? await options.token() : options.token
      if (token) request.headers.set('Authorization', `Bearer ${token}`)
      return request
    },
  })

  async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
    const { data, error, response } = await call
    if (response.ok && data !== undefined) return data
    throw new VingineError(response.status, detailOf(error, response))
  }
  const job = (job_id: string) => ({ params: { path: { job_id } } })
  const workflow = (workflow_id: string) => ({ params: { path: { workflow_id } } })
  const run = (run_id: string) => ({ params: { path: { run_id } } })
  const keyHeader = (options: IdempotencyOptions) => ({ 'Idempotency-Key': options.idempotencyKey })

  const createStreamToken = (scope: StreamScope = {}) => unwrap(api.POST('/api/stream/token', { body: scope }))

  return {
    // --- auth ---
    obtainToken: (body: Credentials) => unwrap(api.POST('/api/auth/token', { body })),
    refreshToken: (refresh: string) => unwrap(api.POST('/api/auth/token/refresh', { body: { refresh } })),

    // --- jobs ---
    createCronJob: (body: CronJobRequest) => unwrap(api.POST('/api/cron/jobs/cron', { body })),
    createIntervalJob: (body: IntervalJobRequest) => unwrap(api.POST('/api/cron/jobs/interval', { body })),
    listJobs: (options: JobListOptions = {}) =>
      unwrap(api.GET('/api/cron/jobs', { params: { query: jobListQuery(options) } })),
    /** Operators (staff) only: every user's jobs. */
    listAllJobs: (options: JobListOptions = {}) =>
      unwrap(api.GET('/api/cron/jobs/all', { params: { query: jobListQuery(options) } })),
    getJob: (job_id: string) => unwrap(api.GET('/api/cron/jobs/{job_id}', job(job_id))),
    deleteJob: (job_id: string) => unwrap(api.DELETE('/api/cron/jobs/{job_id}', job(job_id))),
    triggerJob: (job_id: string, options: IdempotencyOptions = {}) =>
      unwrap(api.POST('/api/cron/jobs/{job_id}/trigger', { params: { path: { job_id }, header: keyHeader(options) } })),
    pauseJob: (job_id: string) => unwrap(api.POST('/api/cron/jobs/{job_id}/pause', job(job_id))),
    resumeJob: (job_id: string) => unwrap(api.POST('/api/cron/jobs/{job_id}/resume', job(job_id))),
    listJobRuns: (job_id: string, filters: RunFilters = {}) =>
      unwrap(api.GET('/api/cron/jobs/{job_id}/runs', { params: { path: { job_id }, query: runQuery(filters) } })),
    /** Every change to the job (who, when, through what, what changed), newest first. */
    getJobHistory: (job_id: string, page: Page = {}) =>
      unwrap(api.GET('/api/cron/jobs/{job_id}/history', { params: { path: { job_id }, query: page } })),
    /** The failure and recovery notifications sent for the job (its `notify`), newest first. */
    listJobNotifications: (job_id: string) => unwrap(api.GET('/api/cron/jobs/{job_id}/notifications', job(job_id))),
    /** One run per past slot from start to end (both included) that has none; end must not be in the future. */
    backfillJob: (job_id: string, body: BackfillRequest, options: IdempotencyOptions = {}) =>
      unwrap(
        api.POST('/api/cron/jobs/{job_id}/backfill', {
          params: { path: { job_id }, header: keyHeader(options) },
          body,
        }),
      ),
    /** Cancels every queued or running run of the job; the job keeps its schedule. */
    cancelJobRuns: (job_id: string) => unwrap(api.POST('/api/cron/jobs/{job_id}/runs/cancel', job(job_id))),
    /** The next fire times and a description of a schedule, without saving anything. */
    previewSchedule: (body: PreviewRequest) => unwrap(api.POST('/api/cron/preview', { body })),

    // --- workflows and runs ---
    saveWorkflow: (body: WorkflowRequest) => unwrap(api.POST('/api/workflows', { body })),
    listWorkflows: (page: Page = {}) => unwrap(api.GET('/api/workflows', { params: { query: page } })),
    getWorkflow: (workflow_id: string) => unwrap(api.GET('/api/workflows/{workflow_id}', workflow(workflow_id))),
    deleteWorkflow: (workflow_id: string) =>
      unwrap(api.DELETE('/api/workflows/{workflow_id}', workflow(workflow_id))),
    runWorkflow: (workflow_id: string, body: RunRequest = {}, options: IdempotencyOptions = {}) =>
      unwrap(
        api.POST('/api/workflows/{workflow_id}/run', {
          params: { path: { workflow_id }, header: keyHeader(options) },
          body,
        }),
      ),
    /** The caller's own runs, of every job and workflow, newest first (an operator's too: their own). */
    listRuns: (filters: AllRunFilters = {}) => unwrap(api.GET('/api/runs', { params: { query: runQuery(filters) } })),
    getRun: (run_id: string) => unwrap(api.GET('/api/runs/{run_id}', run(run_id))),
    /** A queued run ends cancelled at once; a running one is still running in the answer and ends
     * cancelled once its worker stops it (poll getRun). 409 once the run has ended. */
    cancelRun: (run_id: string) => unwrap(api.POST('/api/runs/{run_id}/cancel', run(run_id))),
    /** A new run of the same workflow and input, with trigger rerun and rerun_of this run. */
    rerunRun: (run_id: string, options: IdempotencyOptions = {}) =>
      unwrap(api.POST('/api/runs/{run_id}/rerun', { params: { path: { run_id }, header: keyHeader(options) } })),

    // --- live runs ---
    /** A short-lived token and the URL of the caller's run stream (one job's or one run's, if
     * given); the URL is good for connecting for a few minutes, an open stream stays open. */
    createStreamToken,
    /** The caller's run events as they happen (see watchRuns); it asks for stream tokens itself. */
    watchRuns: ({ jobId, runId, ...options }: ClientWatchRunsOptions = {}) => {
      const scope: StreamScope = jobId !== undefined ? { job_id: jobId } : runId !== undefined ? { run_id: runId } : {}
      return watchRuns({ ...options, streamUrl: async () => (await createStreamToken(scope)).url })
    },

    // --- signed requests ---
    /** The secret that signs every request the caller's runs send (check them with verifyWebhook). */
    getSigningSecret: () => unwrap(api.GET('/api/signing-secret')),
    /** A new secret; until previous_expires_at requests carry the old secret's signature as well. */
    rotateSigningSecret: () => unwrap(api.POST('/api/signing-secret/rotate')),
  }
}

export type VingineClient = ReturnType<typeof createVingineClient>

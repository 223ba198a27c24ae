// watchRuns(): the live stream of a user's run events (GET <stream url>, server-sent events) as an
// async iterator. It reads the stream with fetch, so it runs on Node 20 (which has no EventSource)
// and in browsers alike, and it keeps the stream going: on a dropped connection it reconnects
// after a growing, jittered wait and resumes after the last event it saw; when the stream token
// has expired (a 401 on connecting) it asks for a new stream URL at once.
import type { Run } from './client.js'
import { VingineError } from './errors.js'
import { SseParser } from './sse.js'

export type RunEventType = 'run.created' | 'run.started' | 'run.step' | 'run.ended'

/** One step's log entry, as the run's `steps` shows it, with its 0-based place in the workflow. */
export type RunStepEntry = Run['steps'][number] & { index: number }

export interface RunEvent {
  type: RunEventType
  /** The event's id: pass it as `lastEventId` to resume after it later. */
  id: string
  /** The run as GET /api/runs/{run_id} shows it when the event is delivered (it may be further along). */
  run: Run
  /** Only on `run.step`: the step that just finished. */
  step?: RunStepEntry
}

/** A run that is gone (its slot, prepared ahead, dropped by a pause or replacement of its job; or
 * its job or workflow deleted): there is no run to show, only its id. */
export interface RunDeletedEvent {
  type: 'run.deleted'
  id: string
  run_id: string
}

/** The server no longer keeps the events since the last one seen: what was missed must be fetched
 * again (GET /api/runs). Live events follow. */
export interface ResetEvent {
  type: 'reset'
  id: string
  detail: string
}

export type RunStreamEvent = RunEvent | RunDeletedEvent | ResetEvent

/** `connecting`: first connection; `open`: events flow; `reconnecting`: waiting to connect again
 * after the stream ended or failed; `closed`: stopped (aborted, or a failure retrying can't fix). */
export type StreamState = 'connecting' | 'open' | 'reconnecting' | 'closed'

export interface WatchRunsOptions {
  /** Answers a stream URL with its token (POST /api/stream/token's `url`); asked again whenever a
   * URL's token has expired. In a browser, a server action that mints the token keeps the user's
   * JWT on the server. Throw an error with a 4xx `status` (a VingineError) to stop for good. */
  streamUrl: () => Promise<string>
  /** Resume after this event (an earlier RunEvent's `id`): the server sends what came since. */
  lastEventId?: string
  /** Aborting it ends the iteration (without an error). */
  signal?: AbortSignal
  fetch?: typeof globalThis.fetch
  onState?: (state: StreamState) => void
  /** The first wait before reconnecting after a failure; it doubles with each failure in a row,
   * up to `maxRetryMs`. The server's `retry:` replaces it once a stream has said one. */
  retryMs?: number
  maxRetryMs?: number
  /** A connection that has carried nothing for this long (the server pings every 15 s) is taken
   * as dead and replaced. */
  idleTimeoutMs?: number
}

const RUN_EVENT_TYPES: ReadonlySet<string> = new Set(['run.created', 'run.started', 'run.step', 'run.ended'])

/** An answer or error that retrying will not fix: a 4xx other than 401 (a new token fixes that),
 * 408 and 429. */
function refusal(error: unknown): boolean {
  const status = (error as { status?: unknown } | null)?.status
  return typeof status === 'number' && status >= 400 && status < 500 && status !== 408 && status !== 429
}

async function detailOf(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { detail?: unknown }
    if (typeof body.detail === 'string') return body.detail
  } catch {}
  return `${response.status} ${response.statusText}`.trim()
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((done) => {
    if (signal.aborted) return done()
    const timer = setTimeout(finish, ms)
    function finish() {
      clearTimeout(timer)
      signal.removeEventListener('abort', finish)
      done()
    }
    signal.addEventListener('abort', finish, { once: true })
  })
}

function toEvent(event: string, data: string, id: string): RunStreamEvent | undefined {
  let body: { run?: Run; step?: RunStepEntry; detail?: string; run_id?: string }
  try {
    body = JSON.parse(data)
  } catch {
    return undefined
  }
  if (event === 'reset') return { type: 'reset', id, detail: String(body.detail ?? '') }
  if (event === 'run.deleted') return typeof body.run_id === 'string' ? { type: 'run.deleted', id, run_id: body.run_id } : undefined
  if (!RUN_EVENT_TYPES.has(event) || !body.run) return undefined // a kind this client doesn't know yet
  const runEvent: RunEvent = { type: event as RunEventType, id, run: body.run }
  if (event === 'run.step' && body.step) runEvent.step = body.step
  return runEvent
}

/**
 * The user's run events, in the order the server recorded them, until `signal` aborts, the loop
 * breaks, or the server refuses the stream for good (then it throws, with the answer's `status`).
 *
 * ```ts
 * for await (const event of watchRuns({ streamUrl, signal })) {
 *   if (event.type === 'reset') reloadRuns()
 *   else show(event.run)
 * }
 * ```
 * With a client that holds the user's token, `client.watchRuns({ jobId })` asks for the URL itself.
 */
export async function* watchRuns(options: WatchRunsOptions): AsyncGenerator<RunStreamEvent, void, undefined> {
  const fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis)
  const idleTimeoutMs = options.idleTimeoutMs ?? 45_000
  const maxRetryMs = options.maxRetryMs ?? 30_000
  // Ours, so that a `break` in the caller's loop closes the connection too.
  const stop = new AbortController()
  const abort = () => stop.abort()
  options.signal?.addEventListener('abort', abort, { once: true })
  if (options.signal?.aborted) stop.abort()

  let state: StreamState | undefined
  const setState = (next: StreamState) => {
    if (next !== state) options.onState?.((state = next))
  }

  let retryMs = options.retryMs ?? 1000
  let lastEventId = options.lastEventId ?? ''
  let url: string | undefined
  let failures = 0 // in a row, without an open stream between them
  let unauthorized = 0 // 401s in a row: a fresh URL refused again means waiting, not spinning

  try {
    setState('connecting')
    while (!stop.signal.aborted) {
      const connection = new AbortController()
      const close = () => connection.abort()
      stop.signal.addEventListener('abort', close, { once: true })
      let idle: ReturnType<typeof setTimeout> | undefined
      const watchIdle = () => {
        clearTimeout(idle)
        idle = setTimeout(close, idleTimeoutMs)
      }
      let opened = false
      try {
        url ??= await options.streamUrl()
        // Last-Event-ID, as EventSource sends it: the server replays what came after that event. (In
        // a browser it costs the reconnect a CORS preflight, which the stream server answers.)
        const headers: Record<string, string> = { Accept: 'text/event-stream' }
        if (lastEventId) headers['Last-Event-ID'] = lastEventId
        const response = await fetchFn(url, { headers, cache: 'no-store', signal: connection.signal })
        if (response.status === 401) {
          await response.body?.cancel()
          url = undefined
          if (++unauthorized < 2) continue
          throw new Error('the stream refused a fresh token')
        }
        if (response.status === 204) return // the standard's "stop reconnecting"
        if (!response.ok) throw new VingineError(response.status, await detailOf(response))
        if (!response.body || !(response.headers.get('Content-Type') ?? '').startsWith('text/event-stream')) {
          throw new Error(`not an event stream: ${response.headers.get('Content-Type')}`)
        }

        opened = true
        failures = 0
        unauthorized = 0
        setState('open')
        const parser = new SseParser(lastEventId)
        const decoder = new TextDecoder()
        const reader = response.body.getReader()
        try {
          watchIdle()
          for (;;) {
            const { done, value } = await reader.read()
            if (done) break
            watchIdle()
            for (const message of parser.push(decoder.decode(value, { stream: true }))) {
              lastEventId = message.lastEventId
              const event = toEvent(message.event, message.data, message.lastEventId)
              if (event) yield event
            }
            if (parser.retryMs !== undefined) retryMs = parser.retryMs
          }
        } finally {
          reader.cancel().catch(() => {})
        }
      } catch (error) {
        if (stop.signal.aborted) return
        if (refusal(error)) throw error
        // Anything else (no network, a 5xx, a dead connection) is worth another try.
      } finally {
        clearTimeout(idle)
        stop.signal.removeEventListener('abort', close)
      }
      if (stop.signal.aborted) return
      // A stream that ended after opening reconnects after the server's delay; failures back off.
      setState('reconnecting')
      const wait = opened ? retryMs : Math.min(maxRetryMs, retryMs * 2 ** failures++)
      await sleep(wait * (opened ? 1 : 0.5 + Math.random() / 2), stop.signal)
    }
  } finally {
    options.signal?.removeEventListener('abort', abort)
    stop.abort()
    setState('closed')
  }
}

'use client'
// @vingine/client/react: useRuns(), the live list of a user's runs for a React component. The only
// module of the package that imports React (a peer dependency: the app's own).
import { useEffect, useRef, useState } from 'react'
import type { Run } from './client.js'
import { watchRuns, type StreamState, type WatchRunsOptions } from './stream.js'

export type { StreamState } from './stream.js'
// For a streamUrl function to stop the stream for good (throw one with a 4xx status), and to tell
// such a failure in `error`.
export { VingineError } from './errors.js'

export interface UseRunsOptions {
  /** A stream URL with a fresh token, e.g. from a server action that calls POST /api/stream/token
   * with the user's JWT (which then never reaches the browser). Asked again when a token expires. */
  streamUrl: () => Promise<string>
  /** Changing it opens a new stream (say, a job id when `streamUrl` is scoped to that job); a new
   * `streamUrl` function alone does not. */
  scope?: string
  /** The runs known when the component mounts (e.g. GET /api/runs in a server component). */
  initialRuns?: Run[]
  /** Fetches the runs again when the server could not replay what was missed (a `reset` event). */
  reload?: () => Promise<Run[]>
  /** How many runs the list keeps, newest first. */
  limit?: number
  /** Passed on to watchRuns. */
  retryMs?: number
  maxRetryMs?: number
}

export interface RunsState {
  /** Newest first (by created_at), one entry per run, each as its latest event showed it. */
  runs: Run[]
  state: StreamState
  /** Why the stream stopped for good (state `closed`), e.g. a 403 for someone else's job. */
  error: Error | undefined
}

const PROGRESS: Record<string, number> = { queued: 0, running: 1 }

// An event carries the run as it was when delivered, so an older event (a replay after a
// reconnect) may show less than what the list already has: keep whichever is further along.
function progress(run: Run): number {
  return run.finished_at ? 2 : (PROGRESS[run.status] ?? 2)
}

function newestFirst(a: Run, b: Run): number {
  return b.created_at.localeCompare(a.created_at) || b.run_id.localeCompare(a.run_id)
}

export function mergeRuns(runs: Run[], incoming: Run[], limit: number): Run[] {
  const byId = new Map(runs.map((run) => [run.run_id, run]))
  for (const run of incoming) {
    const known = byId.get(run.run_id)
    if (!known || progress(run) >= progress(known)) byId.set(run.run_id, run)
  }
  return [...byId.values()].sort(newestFirst).slice(0, limit)
}

/**
 * The user's runs, kept current by the run stream while the component is mounted.
 *
 * ```tsx
 * 'use client'
 * import { useRuns } from '@vingine/client/react'
 * import { streamUrl } from './actions' // a server action answering POST /api/stream/token's url
 *
 * export function Runs({ initial }: { initial: Run[] }) {
 *   const { runs, state } = useRuns({ streamUrl: () => streamUrl(), initialRuns: initial })
 *   return <ul>{runs.map((run) => <li key={run.run_id}>{run.job_id}: {run.status}</li>)}</ul>
 * }
 * ```
 */
export function useRuns(options: UseRunsOptions): RunsState {
  const limit = options.limit ?? 50
  const [runs, setRuns] = useState<Run[]>(() => mergeRuns([], options.initialRuns ?? [], limit))
  const [state, setState] = useState<StreamState>('connecting')
  const [error, setError] = useState<Error | undefined>(undefined)
  // The latest callbacks, read when used: an inline function must not reopen the stream each render.
  const latest = useRef(options)
  useEffect(() => {
    latest.current = options
  })

  // Another scope: the list starts again from the runs given with it.
  const [scope, setScope] = useState(options.scope)
  if (options.scope !== scope) {
    setScope(options.scope)
    setRuns(mergeRuns([], options.initialRuns ?? [], limit))
  }

  // Runs the server renders again later (after a server action, say) join the list; the events
  // already merged keep their runs unless those are further along.
  useEffect(() => {
    if (options.initialRuns) setRuns((current) => mergeRuns(current, options.initialRuns ?? [], limit))
  }, [options.initialRuns, limit])

  useEffect(() => {
    const stop = new AbortController()
    const watch: WatchRunsOptions = {
      streamUrl: () => latest.current.streamUrl(),
      signal: stop.signal,
      onState: setState,
      retryMs: latest.current.retryMs,
      maxRetryMs: latest.current.maxRetryMs,
    }
    setError(undefined)
    ;(async () => {
      try {
        for await (const event of watchRuns(watch)) {
          if (stop.signal.aborted) break
          if (event.type === 'run.deleted') {
            setRuns((current) => current.filter((run) => run.run_id !== event.run_id))
            continue
          }
          if (event.type !== 'reset') {
            setRuns((current) => mergeRuns(current, [event.run], limit))
            continue
          }
          // What was missed is gone from the stream: the list is fetched again; if that fails,
          // the runs shown are still right once their next event comes.
          const fresh = await latest.current.reload?.().catch(() => undefined)
          if (fresh && !stop.signal.aborted) setRuns((current) => mergeRuns(current, fresh, limit))
        }
      } catch (failure) {
        if (!stop.signal.aborted) setError(failure instanceof Error ? failure : new Error(String(failure)))
      }
    })()
    return () => stop.abort()
  }, [options.scope, limit])

  return { runs, state, error }
}

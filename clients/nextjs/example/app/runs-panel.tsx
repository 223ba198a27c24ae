'use client'
import type { Run } from '@vingine/client'
import { useRuns, VingineError } from '@vingine/client/react'
import { recentRuns, streamUrl } from './actions'

async function mintStreamUrl(): Promise<string> {
  const answer = await streamUrl()
  if ('url' in answer) return answer.url
  throw new VingineError(answer.status, answer.error) // a 4xx stops the stream; the rest is retried
}

const LABELS = { connecting: 'connecting', open: 'live', reconnecting: 'reconnecting', closed: 'stopped' }

/** The user's latest runs, updated as their events arrive: no polling, no reload. */
export function RunsPanel({ initialRuns, limit }: { initialRuns: Run[]; limit: number }) {
  // reload: after a long disconnection the stream can't replay what was missed; the list is read again.
  const { runs, state, error } = useRuns({ streamUrl: mintStreamUrl, initialRuns, limit, reload: () => recentRuns(limit) })
  return (
    <section aria-labelledby="runs-title">
      <h2 id="runs-title">
        Runs <span className={`badge ${state}`} data-testid="stream-state">{LABELS[state]}</span>
      </h2>
      {error && <p role="alert">{error.message}</p>}
      {runs.length === 0 ? (
        <p className="muted">No runs yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Job</th>
              <th>Trigger</th>
              <th>Created</th>
              <th>Status</th>
              <th>Output</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((run) => (
              <tr key={run.run_id} data-run-id={run.run_id} data-job-id={run.job_id ?? ''} data-status={run.status}>
                <td>{run.job_id ?? run.workflow_id}</td>
                <td>{run.trigger}</td>
                <td>{new Date(run.created_at).toISOString().slice(11, 19)} UTC</td>
                <td>
                  <span className={`badge ${run.status}`}>{run.status}</span>
                </td>
                <td className="output">{run.error ?? (run.output === null ? '' : JSON.stringify(run.output))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}

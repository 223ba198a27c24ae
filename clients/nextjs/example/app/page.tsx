import { VingineError } from '@vingine/client'
import { api, claimsOf, getToken } from '@/lib/api'
import { changeJob, signOut } from './actions'
import { CreateJobForm } from './create-job-form'
import { RunsPanel } from './runs-panel'
import { SignInForm } from './sign-in-form'

const RUNS_SHOWN = 20

export default async function Home() {
  const token = await getToken()
  if (!token) return <SignInForm />
  const client = await api()
  let lists
  try {
    lists = await Promise.all([client.listJobs(), client.listRuns({ limit: RUNS_SHOWN })])
  } catch (error) {
    if (error instanceof VingineError && error.status === 401) return <SignInForm note="Your session has expired." />
    throw error
  }
  const [{ jobs }, { runs }] = lists

  return (
    <main>
      <header>
        <h1>vingine</h1>
        <form action={signOut}>
          <span>{claimsOf(token).sub}</span> <button className="secondary">Sign out</button>
        </form>
      </header>

      <section aria-labelledby="jobs-title">
        <h2 id="jobs-title">Jobs</h2>
        {jobs.length === 0 ? (
          <p className="muted">No jobs yet.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>Job</th>
                <th>Schedule</th>
                <th>Next run</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {jobs.map((job) => (
                <tr key={job.job_id} data-job-id={job.job_id}>
                  <td>{job.job_id}</td>
                  <td>{job.description}</td>
                  <td>{job.paused ? 'paused' : time(job.next_run_time)}</td>
                  <td className="actions">
                    <form action={changeJob.bind(null, job.job_id, job.paused ? 'resume' : 'pause')}>
                      <button className="secondary">{job.paused ? 'Resume' : 'Pause'}</button>
                    </form>
                    <form action={changeJob.bind(null, job.job_id, 'trigger')}>
                      <button className="secondary">Run now</button>
                    </form>
                    <form action={changeJob.bind(null, job.job_id, 'delete')}>
                      <button className="secondary">Delete</button>
                    </form>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <CreateJobForm />
      </section>

      <RunsPanel initialRuns={runs} limit={RUNS_SHOWN} />
    </main>
  )
}

function time(value: string | null): string {
  return value ? `${new Date(value).toISOString().slice(11, 19)} UTC` : '—'
}

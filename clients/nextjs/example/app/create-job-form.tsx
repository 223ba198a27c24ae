'use client'
import { useActionState } from 'react'
import { createJob, type FormState } from './actions'

export function CreateJobForm() {
  const [state, action, pending] = useActionState<FormState, FormData>(createJob, {})
  return (
    <form action={action} className="row">
      <label>
        Job id <input name="job_id" required pattern="[A-Za-z0-9_.\-]+" placeholder="hello-every-10s" />
      </label>
      <label>
        Every (seconds) <input name="seconds" type="number" min={1} defaultValue={10} required />
      </label>
      <label>
        Input <input name="input" defaultValue="world" />
      </label>
      <button disabled={pending}>Create job</button>
      {state.error && <p role="alert">{state.error}</p>}
    </form>
  )
}

'use client'
import { useActionState } from 'react'
import { signIn, type FormState } from './actions'

export function SignInForm({ note }: { note?: string }) {
  const [state, action, pending] = useActionState<FormState, FormData>(signIn, {})
  return (
    <main className="narrow">
      <h1>vingine</h1>
      {note && <p className="muted">{note}</p>}
      <form action={action} className="stack">
        <label>
          Username <input name="username" autoComplete="username" />
        </label>
        <label>
          Password <input name="password" type="password" autoComplete="current-password" />
        </label>
        <p className="muted">or</p>
        <label>
          Token <textarea name="token" rows={3} placeholder="Paste an access token (JWT)" />
        </label>
        <button disabled={pending}>Sign in</button>
        {state.error && <p role="alert">{state.error}</p>}
      </form>
    </main>
  )
}

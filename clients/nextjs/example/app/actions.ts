'use server'
import { revalidatePath } from 'next/cache'
import { cookies, headers } from 'next/headers'
import { createVingineClient, VingineError, type Run } from '@vingine/client'
import { api, API_URL, claimsOf, getToken, TOKEN_COOKIE } from '@/lib/api'

export type FormState = { error?: string }

/** The workflow every job of this app runs: its input, templated, then echoed. Workflow ids are
 * one namespace for all users, so each user gets their own. */
function workflowOf(userId: string) {
  return {
    workflow_id: `example-echo-${userId.replace(/[^A-Za-z0-9._:-]/g, '-')}`.slice(0, 200),
    name: 'Echo',
    steps: [
      { type: 'template', template: 'Hello {{input}}' },
      { type: 'python', callable: 'echo' },
    ],
  }
}

function messageOf(error: unknown): string {
  if (error instanceof VingineError) return error.detail
  return error instanceof Error ? error.message : String(error)
}

/** Username and password (POST /api/auth/token), or a token pasted as it is (an identity
 * provider's, say); either way the API must accept it before it is kept. */
export async function signIn(_: FormState, form: FormData): Promise<FormState> {
  let token = String(form.get('token') ?? '').trim()
  try {
    if (!token) {
      const username = String(form.get('username') ?? '')
      const password = String(form.get('password') ?? '')
      token = (await createVingineClient({ baseUrl: API_URL }).obtainToken({ username, password })).access
    }
    await createVingineClient({ baseUrl: API_URL, token }).listJobs({ limit: 1 })
  } catch (error) {
    return { error: messageOf(error) }
  }
  const { exp } = claimsOf(token)
  ;(await cookies()).set(TOKEN_COOKIE, token, {
    httpOnly: true,
    sameSite: 'lax',
    secure: (await headers()).get('x-forwarded-proto') === 'https',
    path: '/',
    expires: exp ? new Date(exp * 1000) : undefined,
  })
  revalidatePath('/')
  return {}
}

export async function signOut(): Promise<void> {
  ;(await cookies()).delete(TOKEN_COOKIE)
  revalidatePath('/')
}

export async function createJob(_: FormState, form: FormData): Promise<FormState> {
  const token = await getToken()
  if (!token) return { error: 'Not signed in' }
  const userId = claimsOf(token).sub ?? ''
  try {
    const client = await api()
    const workflow = workflowOf(userId)
    await client.saveWorkflow(workflow)
    await client.createIntervalJob({
      job_id: String(form.get('job_id') ?? '').trim(),
      workflow_id: workflow.workflow_id,
      user_id: userId,
      input: String(form.get('input') ?? ''),
      seconds: Number(form.get('seconds')),
    })
  } catch (error) {
    return { error: messageOf(error) }
  }
  revalidatePath('/')
  return {}
}

export async function changeJob(jobId: string, change: 'pause' | 'resume' | 'trigger' | 'delete'): Promise<void> {
  const client = await api()
  if (change === 'pause') await client.pauseJob(jobId)
  else if (change === 'resume') await client.resumeJob(jobId)
  else if (change === 'trigger') await client.triggerJob(jobId)
  else await client.deleteJob(jobId)
  revalidatePath('/')
}

/** A stream URL for the runs panel: the token is minted here, with the JWT that stays on the
 * server; the URL's own token only opens the user's run stream, for a few minutes. */
export async function streamUrl(): Promise<{ url: string } | { error: string; status: number }> {
  try {
    return { url: (await (await api()).createStreamToken()).url }
  } catch (error) {
    return { error: messageOf(error), status: error instanceof VingineError ? error.status : 503 }
  }
}

export async function recentRuns(limit: number): Promise<Run[]> {
  return (await (await api()).listRuns({ limit })).runs
}

import { randomBytes } from 'node:crypto'
import { createVingineClient, type VingineClient } from '../src/index.js'

function required(name: string): string {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set: run the tests with \`npm test\`, which starts the stack`)
  return value
}

export const API_URL = required('VINGINE_API_URL')
export const PASSWORD = required('VINGINE_TEST_PASSWORD')
export const USER = required('VINGINE_TEST_USER')
export const OTHER_USER = required('VINGINE_TEST_OTHER_USER')
export const STAFF = required('VINGINE_TEST_STAFF')

export const ECHO_STEPS = [
  { type: 'template', template: 'Video about {{input}}' },
  { type: 'python', callable: 'echo' },
]

export function uniqueId(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`
}

/** A client signed in as `username` through POST /api/auth/token. */
export async function signIn(username: string): Promise<{ client: VingineClient; token: string }> {
  const { access } = await createVingineClient({ baseUrl: API_URL }).obtainToken({ username, password: PASSWORD })
  return { client: createVingineClient({ baseUrl: API_URL, token: access }), token: access }
}

/** Polls `check` until it returns something truthy; fails after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((done) => setTimeout(done, 250))
  }
}

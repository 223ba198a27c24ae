// Server-only: the signed-in user's JWT lives in an httpOnly cookie that only server code reads;
// pages and server actions call the API with it, and the browser never sees it.
import { cookies } from 'next/headers'
import { createVingineClient } from '@vingine/client'

export const TOKEN_COOKIE = 'vingine_token'
export const API_URL = process.env.VINGINE_API_URL ?? 'http://localhost:8000'

export async function getToken(): Promise<string | undefined> {
  return (await cookies()).get(TOKEN_COOKIE)?.value
}

export async function api() {
  return createVingineClient({ baseUrl: API_URL, token: await getToken() })
}

/** The token's claims, read without checking the signature: the API checks it on every call. */
export function claimsOf(token: string): { sub?: string; exp?: number } {
  try {
    const payload = token.split('.')[1] ?? ''
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
  } catch {
    return {}
  }
}

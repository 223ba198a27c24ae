// Where the server actions get the signed-in user's token. The Next.js app registers its own
// source once, in server-only code (for Supabase: its server client's auth.getSession()).
export interface Session {
  /** The token's `sub`: the user_id the API knows the user by. */
  userId: string
  accessToken: string
}

export type SessionProvider = () => Session | null | Promise<Session | null>

let provider: SessionProvider | null = null

export function setSessionProvider(source: SessionProvider): void {
  provider = source
}

export async function getSession(): Promise<Session | null> {
  if (!provider) throw new Error('No session provider: call setSessionProvider() in server-only code first')
  return provider()
}

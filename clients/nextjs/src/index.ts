export * from './client.js'
export { setSessionProvider, getSession, type Session, type SessionProvider } from './session.js'
export type { components, paths, operations } from './schema.js'

export * from './client.js'
export { verifyWebhook, WEBHOOK_TOLERANCE_SECONDS } from './webhooks.js'
export { setSessionProvider, getSession, type Session, type SessionProvider } from './session.js'
export type { components, paths, operations } from './schema.js'

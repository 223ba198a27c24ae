// A streaming parser for text/event-stream, as the HTML standard's EventSource reads it
// ("Interpreting an event stream"), for code that reads the stream with fetch: Node 20 has no
// EventSource, and EventSource cannot send the headers or react to the statuses that fetch can.

export interface SseMessage {
  /** The `event:` field; "message" when the event named none. */
  event: string
  /** The `data:` lines, joined with "\n". */
  data: string
  /** The last `id:` seen so far on this stream (ids persist from one event to the next). */
  lastEventId: string
}

export class SseParser {
  /** The last event id, kept across events as the standard does; a client resumes from it. */
  lastEventId: string
  /** The reconnection delay the server asked for with `retry:`, in milliseconds. */
  retryMs: number | undefined

  private buffer = ''
  private event = ''
  private data: string[] = []
  private started = false
  private afterCr = false

  constructor(lastEventId = '') {
    this.lastEventId = lastEventId
  }

  /** Feeds decoded text (any cut, even inside a line or a CRLF) and returns the events it completed. */
  push(text: string): SseMessage[] {
    if (text === '') return []
    // A chunk that ended with a CR has ended its line; an LF opening the next is that CRLF's rest.
    if (this.afterCr && text.startsWith('\n')) text = text.slice(1)
    this.afterCr = false
    this.buffer += text
    if (!this.started && this.buffer.length > 0) {
      this.started = true
      if (this.buffer.charCodeAt(0) === 0xfeff) this.buffer = this.buffer.slice(1)
    }
    const messages: SseMessage[] = []
    let start = 0
    for (;;) {
      const cr = this.buffer.indexOf('\r', start)
      const lf = this.buffer.indexOf('\n', start)
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf)
      if (end === -1) break
      const line = this.buffer.slice(start, end)
      if (end === cr && end === this.buffer.length - 1) this.afterCr = true
      start = end === cr && this.buffer[end + 1] === '\n' ? end + 2 : end + 1
      const message = this.line(line)
      if (message) messages.push(message)
    }
    this.buffer = this.buffer.slice(start)
    return messages
  }

  private line(line: string): SseMessage | undefined {
    if (line === '') return this.dispatch()
    if (line.startsWith(':')) return undefined // a comment: the server's keep-alive ping
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'event') this.event = value
    else if (field === 'data') this.data.push(value)
    else if (field === 'id' && !value.includes('\0')) this.lastEventId = value
    else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value)
    return undefined
  }

  private dispatch(): SseMessage | undefined {
    const event = this.event || 'message'
    const data = this.data
    this.event = ''
    this.data = []
    if (data.length === 0) return undefined
    return { event, data: data.join('\n'), lastEventId: this.lastEventId }
  }
}

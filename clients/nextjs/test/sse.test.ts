// The event-stream parser on its own: the same bytes give the same events however the network cuts them.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { SseParser, type SseMessage } from '../src/sse.js'

const STREAM =
  '\ufeffretry: 2000\r\n' +
  ': ping\r\n' +
  '\r\n' +
  'id: 1764871200123-0\r\n' +
  'event: run.created\r\n' +
  'data: {"type": "run.created",\r\n' +
  'data: "n": 1}\r\n' +
  '\r\n' +
  ': ping\n\n' +
  'event: reset\n' +
  'data:{"type":"reset"}\n' +
  '\n' +
  'id: 1764871200124-0\r' +
  'data: plain\r' +
  '\r'

const EXPECTED: SseMessage[] = [
  { event: 'run.created', data: '{"type": "run.created",\n"n": 1}', lastEventId: '1764871200123-0' },
  { event: 'reset', data: '{"type":"reset"}', lastEventId: '1764871200123-0' },
  { event: 'message', data: 'plain', lastEventId: '1764871200124-0' },
]

describe('SseParser', () => {
  test('reads events, comments, retry and ids with any line ending', () => {
    const parser = new SseParser()
    assert.deepEqual(parser.push(STREAM), EXPECTED)
    assert.equal(parser.retryMs, 2000)
    assert.equal(parser.lastEventId, '1764871200124-0')
  })

  test('gives the same events for every cut of the stream in two, even inside a CRLF', () => {
    for (let cut = 0; cut <= STREAM.length; cut++) {
      const parser = new SseParser()
      const messages = [...parser.push(STREAM.slice(0, cut)), ...parser.push(STREAM.slice(cut))]
      assert.deepEqual(messages, EXPECTED, `cut at ${cut}`)
    }
  })

  test('fed one character at a time', () => {
    const parser = new SseParser()
    const messages = [...STREAM].flatMap((char) => parser.push(char))
    assert.deepEqual(messages, EXPECTED)
  })

  test('an event without data is not one; an unfinished event waits; the id given at the start is kept', () => {
    const parser = new SseParser('41-0')
    assert.deepEqual(parser.push('event: run.started\n\nid\ndata: x'), [])
    assert.equal(parser.lastEventId, '') // a bare "id" field empties it, as the standard says
    assert.deepEqual(new SseParser('41-0').push('data: x\n\n'), [{ event: 'message', data: 'x', lastEventId: '41-0' }])
  })
})

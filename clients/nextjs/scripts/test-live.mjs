// npm test: starts the real stack (the run stream server and web, each on a free 127.0.0.1 port, a
// Celery worker, beat) from the repo's .venv against PostgreSQL and Redis, builds and starts the
// example app (example/, built while the stack starts), then runs the compiled tests with node's
// test runner; the example app's test drives it in headless Chromium.
//   DATABASE_URL  default postgres://postgres@127.0.0.1:5432/vingine_client_test (created if missing)
//   REDIS_URL     default redis://127.0.0.1:6379/14
//   VINGINE_EXAMPLE_SCREENSHOT  a path to keep a picture of the example app at (docs/img/example-app.png)
//   npm test -- stream example-app   runs only those test files (test/stream.test.ts, ...)
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const repo = resolve(pkg, '../..')
const example = join(pkg, 'example')
const bin = join(repo, '.venv/bin')
const logs = mkdtempSync(join(tmpdir(), 'vingine-client-'))
const START_TIMEOUT_MS = 60_000
// `npm test -- stream example-app`: only the test files named so.
const only = process.argv.slice(2)
const withExample = !only.length || only.includes('example-app')

const env = {
  ...process.env,
  DATABASE_URL: process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/vingine_client_test',
  REDIS_URL: process.env.REDIS_URL || 'redis://127.0.0.1:6379/14',
  DJANGO_SETTINGS_MODULE: 'vingine.settings',
  CRON_MIN_INTERVAL_SECONDS: '1', // the tests watch a one-second job fire
  BEAT_MAX_LOOP_INTERVAL: '1',
  WORKFLOW_HTTP_ALLOWED_HOSTS: '127.0.0.1', // the webhook tests' receiver listens on loopback
  PYTHONUNBUFFERED: '1',
}
const users = {
  VINGINE_TEST_USER: `client-${randomBytes(4).toString('hex')}`,
  VINGINE_TEST_OTHER_USER: `client-other-${randomBytes(4).toString('hex')}`,
  VINGINE_TEST_STAFF: `client-staff-${randomBytes(4).toString('hex')}`,
  VINGINE_TEST_PASSWORD: randomBytes(12).toString('hex'),
}

function python(code) {
  execFileSync(join(bin, 'python'), ['-c', code], { cwd: repo, env: { ...env, ...users }, stdio: 'inherit' })
}

// --- the example app: installed (the client packed from dist/, which npm test has just built) and
// built in the background while the stack starts; the tests wait for it -----------------------------
function build() {
  const started = Date.now()
  let output = ''
  const step = (command, args) =>
    new Promise((done, fail) => {
      const child = spawn(command, args, { cwd: example, env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' } })
      child.stdout.on('data', (chunk) => (output += chunk))
      child.stderr.on('data', (chunk) => (output += chunk))
      child.on('error', fail)
      child.on('exit', (code) => (code === 0 ? done() : fail(new Error(`${command} ${args.join(' ')} failed:\n${output.slice(-5000)}`))))
    })
  return (async () => {
    await step('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'])
    await step(join(example, 'node_modules/.bin/next'), ['build'])
    return Date.now() - started
  })()
}
const exampleBuilt = withExample ? build() : Promise.resolve(0)
exampleBuilt.catch(() => {}) // awaited below; this only keeps an early failure from going unhandled

// --- the database: created if missing, migrated, three fresh users -------------------------------
if (env.DATABASE_URL.startsWith('postgres')) {
  python(`
import os, dj_database_url, psycopg
from psycopg import sql
db = dj_database_url.parse(os.environ["DATABASE_URL"])
with psycopg.connect(host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], password=db["PASSWORD"] or None,
                     dbname="postgres", autocommit=True) as conn:
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone():
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
`)
}
execFileSync(join(bin, 'python'), ['manage.py', 'migrate', '--noinput', '-v', '0'], { cwd: repo, env, stdio: 'inherit' })
python(`
import os, django
django.setup()
from django.contrib.auth import get_user_model
User = get_user_model()
password = os.environ["VINGINE_TEST_PASSWORD"]
for name, staff in (("VINGINE_TEST_USER", False), ("VINGINE_TEST_OTHER_USER", False), ("VINGINE_TEST_STAFF", True)):
    User.objects.create_user(username=os.environ[name], password=password, is_staff=staff)
`)

// --- the processes ---------------------------------------------------------------------------------
const processes = []

function start(name, command, args, options = {}) {
  const child = spawn(command, args, { cwd: repo, env, ...options, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  const proc = { name, child, output: '', exited: false }
  const keep = (chunk) => {
    proc.output += chunk.toString()
  }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  child.on('exit', () => {
    proc.exited = true
  })
  processes.push(proc)
  return proc
}

async function stopAll() {
  for (const proc of processes) {
    if (!proc.exited) {
      try {
        process.kill(-proc.child.pid, 'SIGTERM') // its whole group: gunicorn and worker children too
      } catch {}
    }
  }
  const deadline = Date.now() + 10_000
  while (processes.some((p) => !p.exited) && Date.now() < deadline) await sleep(100)
  for (const proc of processes) {
    if (!proc.exited) {
      try {
        process.kill(-proc.child.pid, 'SIGKILL')
      } catch {}
    }
  }
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms))

async function waitFor(what, check) {
  const deadline = Date.now() + START_TIMEOUT_MS
  for (;;) {
    const value = await check()
    if (value) return value
    const dead = processes.find((p) => p.exited)
    if (dead) throw new Error(`${dead.name} exited while waiting for ${what}:\n${dead.output.slice(-5000)}`)
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(250)
  }
}

let status = 1
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    await stopAll()
    process.exit(130)
  })
}
try {
  // uvicorn and gunicorn pick their ports (bind to 0) and say which: no race with other test runs for
  // a port. Web puts the stream server's address in the stream URLs it hands out.
  const stream = start('stream', join(bin, 'uvicorn'), ['streams.asgi:application', '--host', '127.0.0.1', '--port', '0'])
  env.STREAM_PUBLIC_URL = await waitFor('the stream server to listen', () =>
    stream.output.match(/Uvicorn running on (http:\/\/127\.0\.0\.1:\d+)/)?.[1],
  )
  const web = start('web', join(bin, 'gunicorn'), ['vingine.wsgi', '--bind', '127.0.0.1:0', '--workers', '2'])
  start('worker', join(bin, 'celery'), [
    '-A', 'vingine', 'worker', '--loglevel', 'INFO', '--concurrency', '2', '--without-mingle', '--without-gossip',
    '--hostname', `client-${randomBytes(4).toString('hex')}@localhost`,
  ])
  start('beat', join(bin, 'celery'), ['-A', 'vingine', 'beat', '--loglevel', 'INFO', '--schedule', join(logs, 'celerybeat-schedule')])

  const url = await waitFor('the web server to listen', () => web.output.match(/Listening at: (http:\/\/127\.0\.0\.1:\d+)/)?.[1])
  await waitFor('/health to report web, worker and beat up', async () => {
    try {
      return (await fetch(`${url}/health`)).status === 200
    } catch {
      return false
    }
  })

  let appUrl = ''
  if (withExample) {
    const buildMs = await exampleBuilt
    const app = start('example', join(example, 'node_modules/.bin/next'), ['start', '--port', '0', '--hostname', '127.0.0.1'], {
      cwd: example,
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', VINGINE_API_URL: url },
    })
    appUrl = await waitFor('the example app to listen', () => app.output.match(/Local:\s+(http:\/\/127\.0\.0\.1:\d+)/)?.[1])
    console.log(`The example app (built in ${(buildMs / 1000).toFixed(1)} s) is at ${appUrl}`)
  }

  const tests = readdirSync(join(pkg, 'dist/test'))
    .filter((name) => name.endsWith('.test.js') && (!only.length || only.includes(name.replace(/\.test\.js$/, ''))))
    .map((name) => join(pkg, 'dist/test', name))
  const runner = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...tests], {
    cwd: pkg,
    env: {
      ...process.env,
      ...users,
      VINGINE_API_URL: url,
      VINGINE_EXAMPLE_URL: appUrl,
      ...(process.env.VINGINE_EXAMPLE_SCREENSHOT && {
        VINGINE_EXAMPLE_SCREENSHOT: resolve(process.env.INIT_CWD ?? process.cwd(), process.env.VINGINE_EXAMPLE_SCREENSHOT),
      }),
    },
    stdio: 'inherit',
  })
  status = await new Promise((done) => runner.on('exit', (code) => done(code ?? 1)))
} catch (error) {
  console.error(error instanceof Error ? error.message : error)
} finally {
  if (status !== 0) {
    for (const proc of processes) console.error(`----- ${proc.name} -----\n${proc.output.slice(-4000)}`)
  }
  await stopAll()
  // The test users go, and with them everything they made: the database does not grow per run.
  python(`
import os, django
django.setup()
from django.contrib.auth import get_user_model
names = [os.environ[n] for n in ("VINGINE_TEST_USER", "VINGINE_TEST_OTHER_USER", "VINGINE_TEST_STAFF")]
get_user_model().objects.filter(username__in=names).delete()
`)
}
process.exit(status)

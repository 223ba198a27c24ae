#!/usr/bin/env bash
# Start web (gunicorn), the run stream (uvicorn), Celery workers and beat in the foreground; Ctrl-C
# stops them all.
# Settings come from the environment; defaults: SQLite file, Redis at redis://localhost:6379/0,
# web on 127.0.0.1:8000, the run stream on 8001 (BIND_HOST=0.0.0.0 makes them reachable from other
# machines).
# Works with bash 3.2 (macOS) as well as bash 5: no `wait -n`, no associative arrays, and empty
# arrays are expanded as ${arr[@]+"${arr[@]}"} so that `set -u` accepts them.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=.venv/bin
export PORT="${PORT:-8000}"
export REDIS_URL="${REDIS_URL:-redis://localhost:6379/0}"
BIND_HOST="${BIND_HOST:-127.0.0.1}"
STOP_TIMEOUT=20 # seconds a process gets to stop after SIGTERM before it is killed

pids=()       # processes started below, in start order
names=()      # their names, same order
own_redis=""  # port of the redis-server this script started, if it started one

# Stop every process this script started (and the Redis it started), then exit with status $1,
# or, when a signal $2 caused it, end by that signal so that the caller sees it (make, a shell).
# Runs once: on Ctrl-C, SIGTERM, any one process exiting, or an error before they are all up.
stop() {
  trap '' INT TERM PIPE # finish stopping even if the terminal or the log pipe has gone away
  trap - EXIT
  set +e
  local status=$1 pid alive still waited=0
  alive=""
  for pid in ${pids[@]+"${pids[@]}"}; do
    kill -TERM "$pid" 2>/dev/null && alive="$alive $pid"
  done
  [ -n "$alive" ] && echo "Stopping..."
  while [ -n "$alive" ] && [ "$waited" -lt $((STOP_TIMEOUT * 5)) ]; do
    sleep 0.2
    still=""
    for pid in $alive; do
      kill -0 "$pid" 2>/dev/null && still="$still $pid"
    done
    alive=$still
    waited=$((waited + 1))
  done
  for pid in $alive; do
    echo "Process $pid did not stop within ${STOP_TIMEOUT}s; killing it and its children." >&2
    pkill -KILL -P "$pid" 2>/dev/null
    kill -KILL "$pid" 2>/dev/null
  done
  wait 2>/dev/null
  if [ -n "$own_redis" ]; then
    echo "Stopping the redis-server started on port $own_redis."
    if command -v redis-cli >/dev/null; then
      redis-cli -h 127.0.0.1 -p "$own_redis" shutdown nosave >/dev/null 2>&1
    else
      $BIN/python -c 'import sys, redis; redis.Redis(host="127.0.0.1", port=int(sys.argv[1])).shutdown(nosave=True)' \
        "$own_redis" >/dev/null 2>&1
    fi
  fi
  if [ -n "${2:-}" ]; then
    trap - "$2"
    kill -"$2" $$
  fi
  exit "$status"
}
trap 'stop $?' EXIT
trap 'stop 130 INT' INT
trap 'stop 143 TERM' TERM

redis_answers() {
  $BIN/python - "$REDIS_URL" <<'PY' >/dev/null 2>&1
import sys, redis
redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).ping()
PY
}

# True when nothing at all accepts connections on 127.0.0.1:$1.
port_free() {
  $BIN/python - "$1" <<'PY' >/dev/null 2>&1
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
except ConnectionRefusedError:
    sys.exit(0)
sys.exit(1)
PY
}

if ! redis_answers; then
  case "$REDIS_URL" in
    redis://localhost | redis://localhost[:/]* | redis://127.0.0.1 | redis://127.0.0.1[:/]*)
      port=$(echo "$REDIS_URL" | sed -nE 's#^redis://[^:/]+:([0-9]+).*#\1#p')
      port=${port:-6379}
      # Start one only where nothing listens, so the Redis stopped on exit is the one started here.
      if command -v redis-server >/dev/null && port_free "$port"; then
        echo "No Redis answered at $REDIS_URL; starting redis-server on port $port (stopped again on exit)."
        if redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
          >/dev/null; then
          own_redis=$port
        fi
        for _ in $(seq 50); do
          redis_answers && break
          sleep 0.1
        done
      fi
      ;;
  esac
fi
if ! redis_answers; then
  echo "No Redis answers at $REDIS_URL." >&2
  echo "Install one (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis)," >&2
  echo "or point REDIS_URL at a running Redis, then run 'make run' again." >&2
  exit 1
fi

$BIN/python manage.py migrate --noinput
$BIN/python manage.py collectstatic --noinput --verbosity 0

# start NAME COMMAND...: run COMMAND in the background and remember it.
start() {
  local name=$1
  shift
  "$@" &
  pids+=($!)
  names+=("$name")
}

case "$BIND_HOST" in
  \[*) bind="$BIND_HOST:$PORT" ;;  # an IPv6 address in brackets
  *:*) bind="[$BIND_HOST]:$PORT" ;; # an IPv6 address
  *) bind="$BIND_HOST:$PORT" ;;
esac
case "$BIND_HOST" in
  0.0.0.0 | :: | "[::]") url="http://localhost:$PORT" ;; # every interface, this machine included
  *) url="http://$bind" ;;
esac

# Threads keep clients' connections alive between requests (a sync worker closes each one).
start web $BIN/gunicorn vingine.wsgi --bind "$bind" --workers "${WEB_CONCURRENCY:-2}" --worker-class gthread \
  --threads "${WEB_THREADS:-4}" --access-logfile -
# The live run stream: an event loop of its own, where thousands of idle streams cost little, each
# an open file: as many as the hard limit allows.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
stream_host=${BIND_HOST#\[}
start stream $BIN/uvicorn streams.asgi:application --host "${stream_host%\]}" --port "${STREAM_PORT:-8001}" \
  --no-access-log --timeout-graceful-shutdown 5
# Runs wait on the network (webhooks), so each worker process runs many at once on the gevent pool;
# one process per core uses every core (docs/operations.md, Workers).
worker_processes=${WORKER_PROCESSES:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}
i=1
while [ "$i" -le "$worker_processes" ]; do
  start "worker$i" $BIN/celery -A vingine worker --pool gevent --concurrency "${WORKER_CONCURRENCY:-100}" \
    --hostname "worker$i@%h" --loglevel "${LOG_LEVEL:-INFO}"
  i=$((i + 1))
done
start beat $BIN/celery -A vingine beat --loglevel "${LOG_LEVEL:-INFO}" --schedule "${TMPDIR:-/tmp}/vingine-celerybeat-schedule"
if [ -n "${FLOWER_BASIC_AUTH:-}" ]; then
  # Flower shows task arguments: it only starts behind basic auth, on the web server's address.
  flower_host=${BIND_HOST#\[}
  start flower $BIN/celery -A vingine flower --address="${flower_host%\]}" --port="${FLOWER_PORT:-5555}" \
    --basic-auth="$FLOWER_BASIC_AUTH"
fi

echo "vingine is up on $bind: API $url/api/cron/jobs, docs $url/api/docs, admin $url/admin/, health $url/health," \
  "live run stream on port ${STREAM_PORT:-8001}"
# Stop everything as soon as any one of them exits, with that one's exit status.
while :; do
  sleep 1
  i=0
  for pid in ${pids[@]+"${pids[@]}"}; do
    if ! kill -0 "$pid" 2>/dev/null; then
      status=0
      wait "$pid" || status=$?
      echo "${names[$i]} (pid $pid) exited with status $status; stopping the others." >&2
      stop "$status"
    fi
    i=$((i + 1))
  done
done

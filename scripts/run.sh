#!/usr/bin/env bash
# Start web (gunicorn), a Celery worker and beat in the foreground; Ctrl-C stops them all.
# Settings come from the environment; defaults: SQLite file, Redis at redis://localhost:6379/0.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=.venv/bin
export PORT="${PORT:-8000}"
export REDIS_URL="${REDIS_URL:-redis://localhost:6379/0}"

redis_answers() {
  $BIN/python - "$REDIS_URL" <<'PY' >/dev/null 2>&1
import sys, redis
redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).ping()
PY
}

if ! redis_answers; then
  case "$REDIS_URL" in
    redis://localhost*|redis://127.0.0.1*)
      if command -v redis-server >/dev/null; then
        port=$(echo "$REDIS_URL" | sed -nE 's#^redis://[^:/]+:([0-9]+).*#\1#p'); port=${port:-6379}
        echo "No Redis answered at $REDIS_URL; starting redis-server on port $port."
        redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no >/dev/null
        for _ in $(seq 50); do redis_answers && break; sleep 0.1; done
      fi ;;
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

pids=()
stop() {
  trap - INT TERM EXIT
  echo "Stopping..."
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

$BIN/gunicorn vingine.wsgi --bind "0.0.0.0:$PORT" --workers "${WEB_CONCURRENCY:-2}" --access-logfile - &
pids+=($!)
$BIN/celery -A vingine worker --loglevel INFO --concurrency "${WORKER_CONCURRENCY:-2}" &
pids+=($!)
$BIN/celery -A vingine beat --loglevel INFO --schedule "${TMPDIR:-/tmp}/vingine-celerybeat-schedule" &
pids+=($!)
if [ -n "${FLOWER_BASIC_AUTH:-}" ]; then
  # Flower shows task arguments: it only starts behind basic auth.
  $BIN/celery -A vingine flower --port="${FLOWER_PORT:-5555}" --basic-auth="$FLOWER_BASIC_AUTH" &
  pids+=($!)
fi

echo "vingine is up: API http://localhost:$PORT/api/cron/jobs, admin http://localhost:$PORT/admin/, health http://localhost:$PORT/health"
# Stop everything as soon as any one of them exits.
wait -n

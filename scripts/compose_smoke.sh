#!/usr/bin/env bash
# make compose-smoke: the docker compose stack as a deployer runs it. Builds the image, brings the
# stack up under a project name of its own (vingine-smoke, on free ports), waits for /health, runs
# the README quickstart against it, checks Flower's password, reloads web under requests, stops the
# worker in the middle of a run (the run must finish, not end `lost`), then `down -v`, whatever
# happened. Prints what it checked; exits non-zero on any failure. Not part of make test.
#
#   scripts/compose_smoke.sh                 # SMOKE_SLEEP_SECONDS=30: the run the worker stop waits for
set -euo pipefail
cd "$(dirname "$0")/.."

STANDINS=../shared/tools/docker-standins/build.sh # base images built locally where Docker Hub is out of reach
SLEEP_SECONDS=${SMOKE_SLEEP_SECONDS:-30} # the run the worker stop waits for: longer than
# WORKER_LOST_AFTER_SECONDS (20), so that a heartbeat that stopped with the stop would show

export COMPOSE_PROJECT_NAME=vingine-smoke

# --- Docker, the base images, compose ----------------------------------------------------------------

base_images_missing() {
  local image
  for image in python:3.11-slim postgres:16 redis:7; do
    docker image inspect "$image" >/dev/null 2>&1 || return 0
  done
  return 1
}
if ! docker info >/dev/null 2>&1 || base_images_missing; then
  if [ -x "$STANDINS" ]; then
    echo "# building the base images from Debian packages ($STANDINS)"
    "$STANDINS"
  elif ! docker info >/dev/null 2>&1; then
    echo "compose-smoke needs a running Docker daemon (and Docker Hub, or $STANDINS, for python:3.11-slim, postgres:16, redis:7)." >&2
    exit 2
  fi # else compose pulls the missing base images from Docker Hub
fi
if [ -n "${COMPOSE:-}" ]; then
  read -r -a compose <<<"$COMPOSE"
elif docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null; then
  compose=(docker-compose)
else
  echo "compose-smoke needs docker compose (v2 plugin) or docker-compose (v1)." >&2
  exit 2
fi

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])'; }
secret() { python3 -c 'import secrets; print(secrets.token_urlsafe(32))'; }
export PORT=${SMOKE_PORT:-$(free_port)} FLOWER_PORT=${SMOKE_FLOWER_PORT:-$(free_port)}
export STREAM_PORT=${SMOKE_STREAM_PORT:-$(free_port)}
export SECRET_KEY=$(secret) POSTGRES_PASSWORD=$(secret) FLOWER_BASIC_AUTH="smoke:$(secret)"
API=http://127.0.0.1:$PORT
FLOWER=http://127.0.0.1:$FLOWER_PORT

# --- the report --------------------------------------------------------------------------------------

rows=()
failed=0
check() { # check WHAT EXPECTED GOT: one row of the table; a mismatch fails the run
  local ok=ok
  if [ "$2" != "$3" ]; then ok=FAILED; failed=1; fi
  rows+=("| $1 | $2 | $3 | $ok |")
}
note() { rows+=("| $1 | | $2 | |"); }
table() {
  echo
  echo "| check | expected | got | |"
  echo "| --- | --- | --- | --- |"
  printf '%s\n' ${rows[@]+"${rows[@]}"}
}
fail() { # fail WHAT GOT: stop here
  check "$1" "as expected" "$2"
  false
}
finish() {
  local status=$?
  trap - EXIT
  set +e
  if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ]; then
    echo "# logs of the failed run (last 40 lines each):"
    "${compose[@]}" logs --no-color --tail 40 web stream worker beat flower 2>&1 | tail -160
  fi
  echo "# ${compose[*]} down -v"
  "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1
  table
  if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ]; then
    echo "compose-smoke: FAILED"
    exit 1
  fi
  echo "compose-smoke: passed"
}
trap finish EXIT

# --- helpers -----------------------------------------------------------------------------------------

status_of() { curl -s -o /dev/null -w '%{http_code}' "$@" || true; }
json() { python3 -c 'import json, sys; v = json.load(sys.stdin)
for k in sys.argv[1:]: v = v[int(k)] if isinstance(v, list) else v[k]
print(v)' "$@"; }
# wait_for SECONDS WHAT COMMAND...: until COMMAND succeeds
wait_for() {
  local seconds=$1 what=$2 deadline=$((SECONDS + $1))
  shift 2
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$what within ${seconds}s" "no"
    sleep 1
  done
}
healthy() { [ "$(status_of "$API/health")" = 200 ]; }
api() { # api METHOD PATH [BODY]
  curl -s -X "$1" "$API$2" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' ${3:+-d "$3"}
}
run_status() { api GET "/api/runs/$1" | python3 -c 'import json, sys; run = json.load(sys.stdin)["run"]
print(run["status"] + (" (%s)" % run["reason"] if run["reason"] else ""))'; }

# --- up ----------------------------------------------------------------------------------------------

"${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true # what an interrupted run left
echo "# ${compose[*]} build"
"${compose[@]}" build -q
image=${VINGINE_IMAGE:-vingine:latest}
check "one image built for the app services" "$image" "$(docker image inspect -f '{{index .RepoTags 0}}' "$image")"
leaked=$(docker run --rm --entrypoint sh "$image" -c 'ls -d tests clients docs scripts .git .venv 2>/dev/null | tr "\n" " "')
check "tests, clients, docs, scripts, .git kept out of it" "none" "${leaked:-none}"

echo "# ${compose[*]} up -d (web on $API, Flower on $FLOWER)"
"${compose[@]}" up -d
started=$SECONDS
wait_for 240 "/health 200" healthy
check "/health 200 after up" 200 "$(status_of "$API/health")"
note "seconds from up to healthy" $((SECONDS - started))

# --- the README quickstart ---------------------------------------------------------------------------

"${compose[@]}" exec -T web python manage.py createuser demo --password demo-password >/dev/null
TOKEN=$(curl -s -X POST "$API/api/auth/token" -H 'Content-Type: application/json' \
  -d '{"username": "demo", "password": "demo-password"}' | json access)
check "createuser, then a token" yes "$([ -n "$TOKEN" ] && echo yes || echo no)"
saved=$(api POST /api/workflows '{"workflow_id": "video-automation-workflow", "name": "Video",
  "steps": [{"type": "template", "template": "Video about {{input}}"}, {"type": "python", "callable": "echo"}]}' |
  json status)
check "workflow created" success "$saved"
scheduled=$(api POST /api/cron/jobs/interval '{"job_id": "demo-every-10s", "workflow_id": "video-automation-workflow",
  "user_id": "demo", "input": "tech news", "seconds": 10}' | json status)
check "job every 10 s scheduled" success "$scheduled"
sleep 25
runs=$(api GET /api/cron/jobs/demo-every-10s/runs)
succeeded=$(echo "$runs" | python3 -c 'import json, sys
runs = json.load(sys.stdin)["runs"]
print(sum(r["status"] == "succeeded" for r in runs), sum(r["status"] in ("failed", "lost") for r in runs))')
check "runs after 25 s: succeeded >= 2, failed" "yes, 0" \
  "$([ "${succeeded% *}" -ge 2 ] && echo yes || echo "no (${succeeded% *})"), ${succeeded#* }"
output=$(echo "$runs" | python3 -c 'import json, sys
print(next(r["output"] for r in json.load(sys.stdin)["runs"] if r["status"] == "succeeded"))')
check "a succeeded run's output" "Video about tech news" "$output"
stream_url=$(api POST /api/stream/token '{"job_id": "demo-every-10s"}' | json url)
streamed=$(curl -sN --max-time 15 "$stream_url" | grep -m 1 -o 'event: run.ended' || true)
check "the job's live stream shows a run end" "event: run.ended" "$streamed"
check "pause" 200 "$(status_of -X POST "$API/api/cron/jobs/demo-every-10s/pause" -H "Authorization: Bearer $TOKEN")"
check "trigger" 200 "$(status_of -X POST "$API/api/cron/jobs/demo-every-10s/trigger" -H "Authorization: Bearer $TOKEN")"
check "delete" 200 "$(status_of -X DELETE "$API/api/cron/jobs/demo-every-10s" -H "Authorization: Bearer $TOKEN")"

# --- Flower behind its password ----------------------------------------------------------------------

flower_answers() { [ "$(status_of "$FLOWER/")" != 000 ]; }
wait_for 60 "Flower answers" flower_answers
check "Flower without its password" 401 "$(status_of "$FLOWER/")"
check "Flower with it" 200 "$(status_of -u "$FLOWER_BASIC_AUTH" "$FLOWER/")"

# --- web reloaded under requests (SIGHUP): nobody refused --------------------------------------------

python3 - "$API/health" 8 >/tmp/vingine-smoke-reload.$$ <<'PY' &
import sys, time, urllib.error, urllib.request
url, seconds = sys.argv[1], float(sys.argv[2])
ok = other = 0
end = time.monotonic() + seconds
while time.monotonic() < end:  # a new connection for each request, as a refused one would be
    try:
        ok += urllib.request.urlopen(url, timeout=10).status == 200
    except urllib.error.HTTPError:
        other += 1
    except OSError:
        other += 1
print(ok, other)
PY
load=$!
sleep 2
"${compose[@]}" kill -s HUP web >/dev/null
wait "$load"
read -r ok other </tmp/vingine-smoke-reload.$$
rm -f /tmp/vingine-smoke-reload.$$
note "requests during a web reload (kill -s HUP web)" "$ok"
check "of them refused or not 200" 0 "$other"

# --- a worker stopped in the middle of a run ---------------------------------------------------------

api POST /api/workflows "{\"workflow_id\": \"smoke-sleep\", \"name\": \"Sleep\",
  \"steps\": [{\"type\": \"python\", \"callable\": \"sleep\", \"seconds\": $SLEEP_SECONDS}]}" >/dev/null
run_id=$(api POST /api/workflows/smoke-sleep/run '{"input": "deploy"}' | json run run_id)
running() { [ "$(run_status "$run_id")" = running ]; }
wait_for 30 "the ${SLEEP_SECONDS} s run running" running
began=$SECONDS
"${compose[@]}" stop worker >/dev/null 2>&1 &
stopping=$!
# Past WORKER_LOST_AFTER_SECONDS into the stop, the stopping worker's heartbeat must still be there:
# with more than one worker, another's reaper would otherwise fail the run as lost.
sleep "$((SLEEP_SECONDS - 5))"
key=$("${compose[@]}" exec -T redis redis-cli --scan --pattern 'vingine:worker:*' | tr -d '\r' | head -1)
written=$("${compose[@]}" exec -T redis redis-cli GET "$key" | tr -d '\r')
age=$(python3 -c 'import sys, time; print("none" if not sys.argv[1] else int(time.time() - float(sys.argv[1])))' "$written")
check "worker heartbeat $((SLEEP_SECONDS - 5)) s into its stop: at most 7 s old" yes \
  "$([ "$age" != none ] && [ "$age" -le 7 ] && echo yes || echo "no ($age s)")"
wait "$stopping"
note "seconds docker compose stop worker took" $((SECONDS - began))
check "the run, once the worker has stopped" succeeded "$(run_status "$run_id")"
"${compose[@]}" start worker
wait_for 60 "/health 200 with the worker back" healthy
sleep "$((20 + 10))" # past WORKER_LOST_AFTER_SECONDS and a reaper pass: nothing turns it lost later
check "the run, 30 s after the worker came back" succeeded "$(run_status "$run_id")"
after=$(api POST /api/workflows/video-automation-workflow/run '{"input": "again"}' | json run run_id)
finished() { [ "$(run_status "$after")" = succeeded ]; }
wait_for 30 "a run on the restarted worker" finished
check "a run on the restarted worker" succeeded "$(run_status "$after")"

# --- beat and flower stop on SIGTERM, not at the grace period's SIGKILL ------------------------------

began=$SECONDS
"${compose[@]}" stop beat flower stream web >/dev/null 2>&1
took=$((SECONDS - began))
check "beat, flower, stream and web stop on SIGTERM within 5 s" yes "$([ "$took" -le 5 ] && echo yes || echo "no (${took} s)")"
[ "$failed" -eq 0 ]

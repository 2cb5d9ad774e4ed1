#!/usr/bin/env bash
# The local stack without Docker: Kafka (KRaft), Redis, moto S3, fake-gcs-server x2, OIDC issuer.
#   infra/stack.sh start [component...]   install on first use, start, wait until ready, create topics and buckets
#   infra/stack.sh stop [component...]    stop (no process is left behind)
#   infra/stack.sh status                 one line per component
#   infra/stack.sh env                    export lines for the services' variables: eval "$(infra/stack.sh env)"
# Components: kafka redis s3 gcs oidc. Installs are cached in $TRACEFENCE_CACHE
# (default ~/.cache/tracefence); runtime state lives in $TRACEFENCE_STATE (default .stack/).
set -euo pipefail

INFRA=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$INFRA")
CACHE=${TRACEFENCE_CACHE:-$HOME/.cache/tracefence}
STATE=${TRACEFENCE_STATE:-$REPO/.stack}
cd "$REPO"

# TRACEFENCE_STACK_ENV may name another env file (other ports), e.g. to run a second stack beside this one.
STACK_ENV_FILE=${TRACEFENCE_STACK_ENV:-$INFRA/stack.env}
# shellcheck source=/dev/null
source "$STACK_ENV_FILE"
export TRACEFENCE_STACK_ENV="$STACK_ENV_FILE"
for f in common kafka redis s3 gcs oidc; do
  # shellcheck source=/dev/null
  source "$INFRA/lib/$f.sh"
done

ALL=(kafka redis s3 gcs oidc)

ensure_node_modules() {
  if [ ! -d "$REPO/node_modules/tsx" ]; then
    log "installing node modules (npm ci)"
    npm ci --no-audit --no-fund >&2 || die "npm ci failed"
  fi
}

status_line() {
  local name=$1
  if is_running "$name"; then echo "$name: running (pid $(cat "$(pid_file "$name")"))"; else echo "$name: stopped"; fi
}

cmd=${1:-status}
shift || true
components=("$@")
[ ${#components[@]} -gt 0 ] || components=("${ALL[@]}")

case "$cmd" in
  start)
    ensure_node_modules
    mkdir -p "$STATE/run" "$STATE/logs" "$CACHE"
    started=$SECONDS
    # Start everything first, then wait: the JVM start overlaps with the others.
    for c in "${components[@]}"; do "start_$c"; done
    for c in "${components[@]}"; do "ready_$c"; done
    node --import tsx "$INFRA/bootstrap.ts" >&2 || die "bootstrap (topics, buckets) failed"
    log "ready in $((SECONDS - started))s"
    ;;
  stop)
    for ((i=${#components[@]}-1; i>=0; i--)); do "stop_${components[$i]}"; done
    ;;
  restart)
    "$0" stop "${components[@]}"
    "$0" start "${components[@]}"
    ;;
  env)
    node --import tsx "$INFRA/print-dev-env.ts"
    ;;
  status)
    for n in kafka redis s3 gcs-eu gcs-us oidc; do status_line "$n"; done
    ;;
  *)
    die "usage: infra/stack.sh start|stop|restart|status|env [kafka|redis|s3|gcs|oidc ...]"
    ;;
esac

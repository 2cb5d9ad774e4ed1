# Shared helpers for the local stack scripts. Sourced, not run.
# Installs go to $TRACEFENCE_CACHE (kept across clones); runtime state to $TRACEFENCE_STATE.

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

pid_file() { echo "$STATE/run/$1.pid"; }
log_file() { echo "$STATE/logs/$1.log"; }

is_running() {
  local pf; pf=$(pid_file "$1")
  [ -f "$pf" ] && kill -0 "$(cat "$pf")" 2>/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Refuse to start over a port that something else already holds: we would silently
# test against a process that is not ours.
require_free_port() {
  if port_open "$2"; then
    die "$1: port $2 on 127.0.0.1 is already in use by a process this stack did not start (stop it, or change infra/stack.env)"
  fi
}

# launch NAME CMD...: start CMD in its own process group, detached, logging to a file.
launch() {
  local name=$1; shift
  mkdir -p "$STATE/run" "$STATE/logs"
  setsid nohup "$@" >"$(log_file "$name")" 2>&1 < /dev/null &
  echo $! > "$(pid_file "$name")"
}

# wait_until NAME SECONDS CHECK...: poll CHECK until it succeeds; fail with the log tail.
wait_until() {
  local name=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@"; do
    if ! is_running "$name"; then
      tail -n 30 "$(log_file "$name")" >&2 || true
      die "$name exited during start-up (log: $(log_file "$name"))"
    fi
    if [ $SECONDS -ge $deadline ]; then
      tail -n 30 "$(log_file "$name")" >&2 || true
      die "$name not ready after ${secs}s (log: $(log_file "$name"))"
    fi
    sleep 0.3
  done
}

# stop_process NAME: TERM the process group, then KILL after a grace period.
stop_process() {
  local name=$1 pf; pf=$(pid_file "$1")
  [ -f "$pf" ] || return 0
  local pid; pid=$(cat "$pf")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    local i
    for i in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name did not stop within 20s; killing it"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pf"
  log "$name stopped"
}

http_ok() { curl -fs -o /dev/null --max-time 2 "$1"; }

# Redis from Debian's package, on its own port (the system service, if any, is left alone).
install_redis() {
  command -v redis-server >/dev/null && return 0
  command -v apt-get >/dev/null || die "redis: redis-server is missing and apt-get is not available to install it"
  log "redis: installing Debian's redis-server (first run only)"
  # Keep the package's own service from starting on 6379: we run our own instance.
  local policy=/usr/sbin/policy-rc.d created=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created=1; fi
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; } >&2 \
    || { [ $created = 1 ] && rm -f "$policy"; die "redis: apt-get install redis-server failed"; }
  [ $created = 1 ] && rm -f "$policy"
  return 0
}

start_redis() {
  install_redis
  is_running redis && return 0
  require_free_port redis "$REDIS_PORT"
  mkdir -p "$STATE/redis"
  log "redis: starting on 127.0.0.1:$REDIS_PORT"
  # Held traces live in Redis until a reviewer decides: keep an fsync'd append-only file so a
  # Redis restart loses nothing (the chaos suite restarts it).
  launch redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$STATE/redis" \
    --save '' --appendonly yes --appendfsync always --protected-mode yes --daemonize no
}

ready_redis() { wait_until redis 30 sh -c "redis-cli -h 127.0.0.1 -p $REDIS_PORT ping 2>/dev/null | grep -q PONG"; }
stop_redis() { stop_process redis; }

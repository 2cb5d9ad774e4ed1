# GCS emulator: fake-gcs-server, one instance per location because the emulator reports
# a single location for every bucket it holds.
FAKE_GCS_BIN="$CACHE/fake-gcs-server-$FAKE_GCS_VERSION/fake-gcs-server"

install_gcs() {
  [ -x "$FAKE_GCS_BIN" ] && return 0
  command -v go >/dev/null || die "gcs: go is required to build fake-gcs-server"
  log "gcs: building fake-gcs-server $FAKE_GCS_VERSION with go install (first run only)"
  GOBIN="$(dirname "$FAKE_GCS_BIN")" GOFLAGS=-mod=mod go install "github.com/fsouza/fake-gcs-server@$FAKE_GCS_VERSION" >&2 \
    || die "gcs: go install fake-gcs-server@$FAKE_GCS_VERSION failed"
}

start_one_gcs() {
  local name=$1 port=$2 location=$3
  is_running "$name" && return 0
  require_free_port "$name" "$port"
  log "$name: starting fake-gcs-server on 127.0.0.1:$port (location $location)"
  launch "$name" "$FAKE_GCS_BIN" -scheme http -host 127.0.0.1 -port "$port" -backend memory \
    -public-host "127.0.0.1:$port" -external-url "http://127.0.0.1:$port" -location "$location" -log-level warn
}

start_gcs() {
  install_gcs
  start_one_gcs gcs-eu "$GCS_EU_PORT" "$GCS_EU_LOCATION"
  start_one_gcs gcs-us "$GCS_US_PORT" "$GCS_US_LOCATION"
}

ready_gcs() {
  wait_until gcs-eu 30 http_ok "http://127.0.0.1:$GCS_EU_PORT/storage/v1/b"
  wait_until gcs-us 30 http_ok "http://127.0.0.1:$GCS_US_PORT/storage/v1/b"
}
stop_gcs() { stop_process gcs-eu; stop_process gcs-us; }

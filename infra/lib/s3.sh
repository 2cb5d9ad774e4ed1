# S3-compatible store: moto server. Chosen because it keeps per-bucket regions like AWS does:
# the region comes from the SigV4 scope, CreateBucket enforces LocationConstraint, HeadBucket
# returns x-amz-bucket-region, GetBucketLocation answers, and replication/encryption
# configuration APIs exist (see docs/local-stack.md for the comparison).
MOTO_VENV="$CACHE/moto-$MOTO_VERSION"

install_s3() {
  [ -x "$MOTO_VENV/bin/moto_server" ] && return 0
  command -v python3 >/dev/null || die "s3: python3 is required for moto server"
  log "s3: installing moto[server] $MOTO_VERSION into $MOTO_VENV (first run only)"
  rm -rf "$MOTO_VENV"
  python3 -m venv "$MOTO_VENV" >&2 || die "s3: python3 -m venv failed"
  "$MOTO_VENV/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2 \
    || { rm -rf "$MOTO_VENV"; die "s3: pip install moto[server]==$MOTO_VERSION failed"; }
}

start_s3() {
  install_s3
  is_running s3 && return 0
  require_free_port s3 "$S3_PORT"
  log "s3: starting moto server on 127.0.0.1:$S3_PORT"
  launch s3 "$MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT"
}

ready_s3() { wait_until s3 60 http_ok "http://127.0.0.1:$S3_PORT/moto-api/"; }
stop_s3() { stop_process s3; }

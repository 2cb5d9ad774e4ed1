# Development OIDC issuer built on oidc-provider (infra/oidc/issuer.ts).
start_oidc() {
  is_running oidc && return 0
  require_free_port oidc "$OIDC_PORT"
  [ -d "$REPO/node_modules/oidc-provider" ] || die "oidc: node_modules missing; run npm ci first"
  log "oidc: starting issuer on http://127.0.0.1:$OIDC_PORT"
  launch oidc env OIDC_PORT="$OIDC_PORT" OIDC_STATE_DIR="$STATE/oidc" \
    OIDC_REVIEW_REDIRECT_URIS="http://127.0.0.1:$REVIEW_PORT/auth/callback,http://localhost:$REVIEW_PORT/auth/callback" \
    node --import tsx "$INFRA/oidc/issuer.ts"
}

ready_oidc() { wait_until oidc 30 http_ok "http://127.0.0.1:$OIDC_PORT/.well-known/openid-configuration"; }
stop_oidc() { stop_process oidc; }

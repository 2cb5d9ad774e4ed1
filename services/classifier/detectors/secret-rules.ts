/**
 * Provider credential rules, written for this project after the public gitleaks and secretlint
 * rule sets. Each rule is gated by literal keywords: the detector only runs a rule's (sticky,
 * bounded) pattern where one of its keywords occurs.
 */
export interface SecretRule {
  subtype: string;
  /** Literal, case-sensitive strings; the pattern is tried where a keyword starts. */
  keywords: readonly string[];
  /** Sticky pattern matched at the keyword position. Group 1, when present, is the secret. */
  pattern: RegExp;
  /** Extra check on the matched secret. */
  validate?: (secret: string) => boolean;
  /** Characters that must not touch the match on either side (default: letters and digits). */
  boundary?: RegExp;
  /** Generic rules (bearer tokens) lose an overlap to a specific one (a JWT). */
  generic?: boolean;
}

function hasDigitAndLetter(s: string): boolean {
  return /\d/.test(s) && /[A-Za-z]/.test(s);
}

/** A JWT header is base64url JSON with an "alg". */
function jwtHeaderValid(token: string): boolean {
  const header = token.slice(0, token.indexOf('.'));
  try {
    const json: unknown = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
    return typeof json === 'object' && json !== null && typeof (json as { alg?: unknown }).alg === 'string';
  } catch {
    return false;
  }
}

/** Template placeholders and masked values inside URLs are not secrets. */
function notPlaceholder(s: string): boolean {
  return !/^(?:\*+|x{3,}|\$\{[^}]*\}|\{\{?[^}]*\}?\}|<[^>]*>|%s|\$[A-Za-z_]\w*|\[[A-Z_]+(?::[\w-]*)?\])$/i.test(s);
}

export const SECRET_RULES: readonly SecretRule[] = [
  {
    subtype: 'aws_access_key_id',
    keywords: ['AKIA', 'ASIA', 'ABIA', 'ACCA'],
    pattern: /(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}/y,
  },
  {
    subtype: 'github_token',
    keywords: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'],
    pattern: /gh[pousr]_[A-Za-z0-9]{36,251}/y,
  },
  {
    subtype: 'github_token',
    keywords: ['github_pat_'],
    pattern: /github_pat_[A-Za-z0-9_]{50,240}/y,
  },
  {
    subtype: 'gitlab_token',
    keywords: ['glpat-', 'gldt-', 'glrt-', 'glptt-', 'glcbt-', 'gloas-'],
    pattern: /gl(?:pat|dt|rt|ptt|cbt|oas)-[A-Za-z0-9_-]{20,64}/y,
    boundary: /[A-Za-z0-9_-]/,
  },
  {
    subtype: 'slack_token',
    keywords: ['xoxb-', 'xoxp-', 'xoxa-', 'xoxo-', 'xoxs-', 'xoxr-', 'xoxe-', 'xapp-'],
    // xapp-: app-level tokens (xapp-1-A0123-456-abc...).
    pattern: /(?:xox[bpaosre]|xapp)-(?:\d+-)?[A-Za-z0-9-]{10,250}/y,
    validate: hasDigitAndLetter,
    boundary: /[A-Za-z0-9-]/,
  },
  {
    subtype: 'slack_webhook',
    keywords: ['hooks.slack.com/'],
    pattern: /hooks\.slack\.com\/(?:services|workflows)\/[A-Za-z0-9+/]{20,120}/y,
    // The URL's '/' comes before the host (https://hooks...), so '/' cannot be a boundary here.
    boundary: /[A-Za-z0-9]/,
  },
  {
    subtype: 'anthropic_api_key',
    keywords: ['sk-ant-'],
    pattern: /sk-ant-[a-z0-9]{2,12}-[A-Za-z0-9_-]{32,200}/y,
    boundary: /[A-Za-z0-9_-]/,
  },
  {
    subtype: 'openai_api_key',
    keywords: ['sk-'],
    pattern: /sk-(?!ant-)(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,250}/y,
    validate: (s) => /\d/.test(s) && /[a-z]/.test(s) && /[A-Z]/.test(s),
    boundary: /[A-Za-z0-9_-]/,
  },
  {
    // docker login -u user -p password (and podman, helm registry login).
    subtype: 'password',
    keywords: ['login '],
    pattern: /login(?:[ \t]{1,4}-{1,2}[a-z-]{1,16}(?:[ \t]{1,4}[^\s-][^\s]{0,256})?){0,4}[ \t]{1,4}(?:-p|--password)[ \t=]{1,4}["']?([^\s"']{1,256})/y,
    validate: notPlaceholder,
  },
  {
    subtype: 'npm_token',
    keywords: ['npm_'],
    pattern: /npm_[A-Za-z0-9]{36}/y,
  },
  {
    // .netrc: machine host login user password secret
    subtype: 'password',
    keywords: ['machine '],
    pattern: /machine[ \t]{1,8}[^\s]{1,256}(?:\s{1,8}login[ \t]{1,8}[^\s]{1,256})?\s{1,8}password[ \t]{1,8}([^\s]{1,256})/y,
    validate: notPlaceholder,
  },
  {
    subtype: 'stripe_key',
    keywords: ['sk_live_', 'sk_test_', 'rk_live_', 'rk_test_'],
    pattern: /[sr]k_(?:live|test)_[A-Za-z0-9]{10,247}/y,
  },
  {
    subtype: 'stripe_webhook_secret',
    keywords: ['whsec_'],
    pattern: /whsec_[A-Za-z0-9+/=]{24,100}/y,
  },
  {
    subtype: 'google_api_key',
    keywords: ['AIza'],
    pattern: /AIza[0-9A-Za-z_-]{35}/y,
    boundary: /[A-Za-z0-9_-]/,
  },
  {
    subtype: 'google_oauth_client_secret',
    keywords: ['GOCSPX-'],
    pattern: /GOCSPX-[A-Za-z0-9_-]{24,40}/y,
    boundary: /[A-Za-z0-9_-]/,
  },
  {
    subtype: 'google_oauth_token',
    keywords: ['ya29.'],
    pattern: /ya29\.[0-9A-Za-z_-]{20,2048}/y,
    boundary: /[A-Za-z0-9_-]/,
  },
  {
    subtype: 'jwt',
    keywords: ['eyJ'],
    pattern: /eyJ[A-Za-z0-9_-]{8,4096}\.eyJ[A-Za-z0-9_-]{4,16384}\.[A-Za-z0-9_-]{0,4096}/y,
    validate: jwtHeaderValid,
    boundary: /[A-Za-z0-9_-]/,
  },
  {
    subtype: 'url_password',
    keywords: ['://'],
    // scheme://user:password@host — only the password is the secret. People paste passwords
    // unencoded: '#' and '?' are allowed, and so is '@' (the host follows the last '@', as URL
    // parsers read it), but after an '@' a '?' or '#' starts the query of the host.
    pattern: /:\/\/[^\s:/?#@"'<>\\]{0,128}:([^\s/@"'<>\\]{1,256}(?:@[^\s/@"'<>\\?#]{1,256}){0,4})@/y,
    validate: notPlaceholder,
    boundary: /(?!)/,
  },
  {
    subtype: 'basic_auth_password',
    keywords: ['-u ', '--user ', '--user=', '-a ', '--auth ', '--auth='],
    // curl -u user:password, --user user:password, httpie -a/--auth: only the password. A numeric pair is a
    // uid:gid (docker run -u 1000:1000). Generic, so that a key used as the user name
    // (curl -u sk_live_...:) is still found on its own.
    pattern: /(?:-[ua] |--(?:user|auth)[ =])["']?[^\s:"']{1,128}:([^\s"'«»“”‘’]{1,256})/y,
    validate: (s) => /[A-Za-z0-9]/.test(s) && !/^\d+$/.test(s) && notPlaceholder(s),
    boundary: /[A-Za-z0-9_-]/,
    generic: true,
  },
  {
    subtype: 'bearer_token',
    keywords: ['Bearer ', 'bearer ', 'BEARER ', 'Basic ', 'Token '],
    pattern: /(?:Bearer|bearer|BEARER|Basic|Token) +([A-Za-z0-9\-._~+/]{16,4096}=*)/y,
    validate: (s) => /\d/.test(s) && notPlaceholder(s),
    generic: true,
  },
];

import { type Candidate, type Detector, PRIORITY, isAlnum } from './detector.js';

/** File extensions that look like top-level domains in names such as `icon@2x.png`. */
const FILE_TLDS = new Set([
  'png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'ico', 'bmp', 'css', 'js', 'mjs', 'cjs', 'jsx', 'tsx',
  'json', 'map', 'lock', 'txt', 'yaml', 'yml', 'html', 'htm', 'xml', 'go', 'java', 'kt', 'swift', 'toml',
]);

const MAX_LOCAL = 64;
const MAX_DOMAIN = 253;

function isLocalChar(c: number): boolean {
  // RFC 5322 atext subset seen in practice: letters, digits and . _ % + - '
  return isAlnum(c) || c === 46 || c === 95 || c === 37 || c === 43 || c === 45 || c === 39;
}

function isDomainChar(c: number): boolean {
  return isAlnum(c) || c === 45 || c === 46;
}

/**
 * EMAIL_ADDRESS: anchored on each '@' (indexOf), then bounded scans left for the local part and
 * right for the domain, so the cost is linear whatever the input.
 */
export function createEmailDetector(): Detector {
  return {
    name: 'email',
    types: ['EMAIL_ADDRESS'],
    scan(text: string, out: Candidate[]): void {
      let at = text.indexOf('@');
      while (at !== -1) {
        const next = matchAt(text, at);
        if (next !== undefined) {
          out.push({ type: 'EMAIL_ADDRESS', start: next[0], end: next[1], priority: PRIORITY.structured });
          at = text.indexOf('@', next[1]);
        } else {
          at = text.indexOf('@', at + 1);
        }
      }
    },
  };
}

function matchAt(text: string, at: number): [number, number] | undefined {
  let s = at;
  const minS = Math.max(0, at - MAX_LOCAL - 1);
  while (s > minS && isLocalChar(text.charCodeAt(s - 1))) s--;
  if (s === at) return undefined;
  if (s > 0 && isLocalChar(text.charCodeAt(s - 1))) return undefined; // local part too long
  // A quote or dot cannot start the local part; trim leading ones (e.g. 'bob@x.com' in quotes).
  while (s < at && (text.charCodeAt(s) === 46 || text.charCodeAt(s) === 39)) s++;
  if (s === at || text.charCodeAt(at - 1) === 46) return undefined;
  const local = text.slice(s, at);
  if (local.includes('..')) return undefined;
  if (s > 0) {
    const before = text.charCodeAt(s - 1);
    // URL userinfo (scheme://user@host, scheme://user:pass@host) and '@@' are not addresses; after
    // a label (email:jane@x.com, From:ops@x.org) or in a URL path (/users/jane@x.com/) they are.
    if (before === 64 || (before === 47 && s >= 2 && text.charCodeAt(s - 2) === 47)) return undefined;
    if (before === 58 && inUrlUserinfo(text, s - 1)) return undefined;
  }

  let e = at + 1;
  const maxE = Math.min(text.length, at + 1 + MAX_DOMAIN);
  while (e < maxE && isDomainChar(text.charCodeAt(e))) e++;
  if (e < text.length && isDomainChar(text.charCodeAt(e))) return undefined;
  // Trailing dots and hyphens end the sentence, not the domain.
  while (e > at + 1 && (text.charCodeAt(e - 1) === 46 || text.charCodeAt(e - 1) === 45)) e--;
  const domain = text.slice(at + 1, e);
  const labels = domain.split('.');
  if (labels.length < 2) return undefined;
  for (const label of labels) {
    if (label.length === 0 || label.length > 63) return undefined;
    if (label.startsWith('-') || label.endsWith('-')) return undefined;
  }
  const tld = labels[labels.length - 1]!;
  if (!/^[A-Za-z]{2,24}$/.test(tld)) return undefined;
  if (FILE_TLDS.has(tld.toLowerCase())) return undefined;
  if (e < text.length && text.charCodeAt(e) === 64) return undefined; // a@b.c@d: not an address
  // Message ids (Message-ID: <unique@host>) name a message, not a person.
  if (s > 0 && text.charCodeAt(s - 1) === 60 && /message-id|in-reply-to|references/.test(text.slice(Math.max(0, s - 16), s).toLowerCase())) return undefined;
    // git@github.com:org/repo.git is an SSH remote, not a person's address.
  if (local === 'git' && text.charCodeAt(e) === 58) return undefined;
  return [s, e];
}

/** True when the ':' at `colon` separates user and password after `scheme://` in the same token. */
function inUrlUserinfo(text: string, colon: number): boolean {
  const limit = Math.max(0, colon - MAX_LOCAL - 16);
  for (let i = colon - 1; i >= limit; i--) {
    const c = text.charCodeAt(i);
    if (c === 47) return i >= 2 && text.charCodeAt(i - 1) === 47 && text.charCodeAt(i - 2) === 58;
    if (c === 32 || c === 9 || c === 10 || c === 13 || c === 34 || c === 39 || c === 60 || c === 64) return false;
  }
  return false;
}

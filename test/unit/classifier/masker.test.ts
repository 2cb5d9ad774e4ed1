import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUILTIN_PROFILES, createClassifier, createMasker, type MaskingProfile } from '../../../services/classifier/index.js';
import { TracefenceError } from '../../../services/shared/errors.js';

const classifier = createClassifier();
const KEY = new Uint8Array(32).fill(7);
const TEXT = 'mail jane.doe@example.com, card 4111 1111 1111 1111, key AKIAIOSFODNN7EXAMPLE, ssn 536-22-1457.';

function mask(profile: MaskingProfile, text = TEXT, tenantKey: Uint8Array = KEY): string {
  return createMasker(profile, { tenantKey, classifier }).maskText(text, classifier.scanText(text));
}

test('redact replaces each value by its type label', () => {
  assert.equal(mask(BUILTIN_PROFILES.redact), 'mail [EMAIL_ADDRESS], card [CREDIT_CARD], key [SECRET], ssn [US_SSN].');
});

test('partial keeps at most 4 characters and never for secrets', () => {
  const out = mask(BUILTIN_PROFILES.partial);
  assert.equal(out, 'mail ****************.com, card ***************1111, key [SECRET], ssn *******1457.');
  // Even a profile asking for partial secrets gets them redacted.
  const custom: MaskingProfile = { default: { op: 'partial', keepLast: 4 } };
  assert.match(mask(custom), /key \[SECRET\]/);
  // Short values keep less than 40 %.
  assert.equal(mask(custom, 'ip 10.0.0.1'), 'ip *****0.1');
});

test('partial refuses to keep more than 4 characters', () => {
  assert.throws(() => createMasker({ default: { op: 'partial', keepLast: 5 } }, {}), (err: unknown) => err instanceof TracefenceError && err.code === 'CONFIG_INVALID');
});

test('pseudonyms are keyed, stable, and join across formats', () => {
  const a = mask(BUILTIN_PROFILES.pseudonymize, 'card 4111 1111 1111 1111 and JANE@example.com');
  const b = mask(BUILTIN_PROFILES.pseudonymize, 'card 4111-1111-1111-1111 and jane@example.com');
  assert.equal(a, b);
  assert.match(a, /^card \[CREDIT_CARD:[0-9a-f]{16}\] and \[EMAIL_ADDRESS:[0-9a-f]{16}\]$/);
  const other = mask(BUILTIN_PROFILES.pseudonymize, 'card 4111 1111 1111 1111 and JANE@example.com', new Uint8Array(32).fill(8));
  assert.notEqual(a, other);
  // Secrets are redacted, not pseudonymised, by the built-in profile.
  assert.match(mask(BUILTIN_PROFILES.pseudonymize), /key \[SECRET\]/);
});

test('pseudonyms join the spellings of one phone number, IPv6 address or segwit address', () => {
  const same = (...texts: string[]): void => {
    const tokens = texts.map((t) => mask(BUILTIN_PROFILES.pseudonymize, `x ${t} y`));
    assert.equal(new Set(tokens).size, 1, `${texts.join(' | ')} -> ${tokens.join(' | ')}`);
    assert.match(tokens[0]!, /^x \[[A-Z_]+:[0-9a-f]{16}\] y$/);
  };
  same('+1 415-555-2671', '(415) 555-2671', '1-415-555-2671', '001 415 555 2671');
  same('+44 20 7946 0958', '+44 (0)20 7946 0958', '0044 20 7946 0958');
  same('2001:db8::1', '2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8:0:0:0:0:0:1');
  same('bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4', 'BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4');
  assert.notEqual(mask(BUILTIN_PROFILES.pseudonymize, 'x +1 415-555-2671 y'), mask(BUILTIN_PROFILES.pseudonymize, 'x +1 415-555-2672 y'));
});

test('pseudonymize without a tenant key is a configuration error', () => {
  assert.throws(() => createMasker(BUILTIN_PROFILES.pseudonymize, {}), (err: unknown) => err instanceof TracefenceError && err.code === 'CONFIG_INVALID' && err.path === 'tenantKey');
  assert.throws(() => createMasker(BUILTIN_PROFILES.pseudonymize, { tenantKey: new Uint8Array(8) }), TracefenceError);
});

test('drop removes the values; byType overrides the default', () => {
  assert.equal(mask(BUILTIN_PROFILES.drop), 'mail , card , key , ssn .');
  const mixed: MaskingProfile = { default: { op: 'redact' }, byType: { EMAIL_ADDRESS: { op: 'drop' } } };
  assert.equal(mask(mixed), 'mail , card [CREDIT_CARD], key [SECRET], ssn [US_SSN].');
});

test('no fragment of a detected value survives any built-in profile', () => {
  const values = ['jane.doe@example.com', '4111 1111 1111 1111', 'AKIAIOSFODNN7EXAMPLE', '536-22-1457'];
  for (const [name, profile] of Object.entries(BUILTIN_PROFILES)) {
    const out = mask(profile);
    for (const v of values) {
      const compact = v.replace(/[^A-Za-z0-9]/g, '');
      // No 5-character window of the value remains (partial keeps 4 at most).
      for (let i = 0; i + 5 <= compact.length; i++) {
        assert.ok(!out.replace(/[^A-Za-z0-9]/g, '').includes(compact.slice(i, i + 5)), `${name} leaked ${compact.slice(i, i + 5)}`);
      }
    }
  }
});

test('maskValue masks every string and whole values under sensitive keys', () => {
  const masker = createMasker(BUILTIN_PROFILES.redact, { classifier });
  const input = {
    user: { email: 'a.b@example.com', password: 12345, note: 'call +44 20 7946 0958' },
    list: ['4111111111111111', 7, null, true],
    credentials: { user: 'x', pass: 'y' },
    ssn: '536-22-1457',
    api_key: '',
  };
  const { value, findings } = masker.maskValue(input);
  assert.deepEqual(value, {
    user: { email: '[EMAIL_ADDRESS]', password: '[SECRET]', note: 'call [PHONE_NUMBER]' },
    list: ['[CREDIT_CARD]', 7, null, true],
    credentials: '[SECRET]',
    ssn: '[US_SSN]',
    api_key: '',
  });
  assert.deepEqual(
    findings.map((f) => [f.path.join('.'), f.type, f.wholeValue === true]),
    [
      ['user.email', 'EMAIL_ADDRESS', false],
      ['user.password', 'SECRET', true],
      ['user.note', 'PHONE_NUMBER', false],
      ['list.0', 'CREDIT_CARD', false],
      ['credentials', 'SECRET', true],
      ['ssn', 'US_SSN', false],
    ],
  );
  assert.equal(input.user.email, 'a.b@example.com'); // input untouched
});

test('under a sensitive key, only code that reads a secret elsewhere is left; a password that looks like code is masked', () => {
  const m = createMasker(BUILTIN_PROFILES.redact, { classifier });
  const { value } = m.maskValue({ password: 'Pa(ss)word1', token: 'abc(def', secret: 'app.secret99', pwd: 'os.getenv("DB_PASSWORD")', api_key: 'settings.STRIPE_KEY' });
  assert.deepEqual(value, { password: '[SECRET]', token: '[SECRET]', secret: '[SECRET]', pwd: 'os.getenv("DB_PASSWORD")', api_key: 'settings.STRIPE_KEY' });
});

test('maskValue with drop removes sensitive properties', () => {
  const masker = createMasker(BUILTIN_PROFILES.drop, { classifier });
  assert.deepEqual(masker.maskValue({ token: 'abc', keep: 'x a@b.example y' }).value, { keep: 'x  y' });
});

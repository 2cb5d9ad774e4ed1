import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClassifier, type Finding } from '../../../services/classifier/index.js';

const classifier = createClassifier();

function found(text: string): Array<{ type: string; value: string; subtype?: string }> {
  return classifier.scanText(text).map((f: Finding) => ({ type: f.type, value: text.slice(f.start, f.end), ...(f.subtype === undefined ? {} : { subtype: f.subtype }) }));
}

function assertFinds(text: string, type: string, value: string, subtype?: string): void {
  const hits = found(text);
  assert.ok(
    hits.some((h) => h.type === type && h.value === value && (subtype === undefined || h.subtype === subtype)),
    `expected ${type}${subtype ? '/' + subtype : ''} ${JSON.stringify(value)} in ${JSON.stringify(text)}, got ${JSON.stringify(hits)}`,
  );
}

const POSITIVES: Array<[type: string, text: string, value: string, subtype?: string]> = [
  ['EMAIL_ADDRESS', 'mail john.doe+billing@mail.example.org today', 'john.doe+billing@mail.example.org'],
  ['EMAIL_ADDRESS', 'From: Ann <ANN.SMITH@EXAMPLE.CO.UK>', 'ANN.SMITH@EXAMPLE.CO.UK'],
  ['EMAIL_ADDRESS', 'mailto:o.brien@corp.acme.io.', 'o.brien@corp.acme.io'],
  ['PHONE_NUMBER', 'call (415) 555-2671 now', '(415) 555-2671'],
  ['PHONE_NUMBER', 'tel 415.555.2671', '415.555.2671'],
  ['PHONE_NUMBER', 'tel 1-415-555-2671', '1-415-555-2671'],
  ['PHONE_NUMBER', 'intl +1 (415) 555-2671 ext. 12', '+1 (415) 555-2671'],
  ['PHONE_NUMBER', 'E.164 +14155552671.', '+14155552671'],
  ['PHONE_NUMBER', 'UK +44 20 7946 0958', '+44 20 7946 0958'],
  ['PHONE_NUMBER', 'UK +44 (0)20 7946 0958', '+44 (0)20 7946 0958'],
  ['PHONE_NUMBER', 'UK 07911 123456', '07911 123456'],
  ['PHONE_NUMBER', 'UK 020 7946 0958', '020 7946 0958'],
  ['PHONE_NUMBER', 'DE +49 30 12345678', '+49 30 12345678'],
  ['PHONE_NUMBER', 'Tokyo office +81 3-1234-5678.', '+81 3-1234-5678'],
  ['PHONE_NUMBER', 'Sydney +61 2 9876 5432', '+61 2 9876 5432'],
  ['PHONE_NUMBER', 'call (+44) 20 7946 0958 now', '(+44) 20 7946 0958'],
  ['PHONE_NUMBER', '(+1) 415-555-2671', '(+1) 415-555-2671'],
  ['PHONE_NUMBER', 'DE 030/1234567', '030/1234567'],
  ['PHONE_NUMBER', 'DE (030) 12345678', '(030) 12345678'],
  ['PHONE_NUMBER', 'DE 0151 23456789', '0151 23456789'],
  ['PHONE_NUMBER', 'FR +33 6 12 34 56 78', '+33 6 12 34 56 78'],
  ['PHONE_NUMBER', 'FR 01 23 45 67 89', '01 23 45 67 89'],
  ['PHONE_NUMBER', 'FR 06.12.34.56.78', '06.12.34.56.78'],
  ['PHONE_NUMBER', 'IN +91 98765 43210', '+91 98765 43210'],
  ['PHONE_NUMBER', 'IN +91-9876543210', '+91-9876543210'],
  ['PHONE_NUMBER', 'IN 98765 43210', '98765 43210'],
  ['PHONE_NUMBER', 'AU +61 412 345 678', '+61 412 345 678'],
  ['PHONE_NUMBER', 'please call 4155552671', '4155552671'],
  ['CREDIT_CARD', 'card 4111 1111 1111 1111.', '4111 1111 1111 1111'],
  ['CREDIT_CARD', 'card 4111-1111-1111-1111', '4111-1111-1111-1111'],
  ['CREDIT_CARD', 'card 5500005555555559', '5500005555555559'],
  ['CREDIT_CARD', 'amex 3782 822463 10005', '3782 822463 10005'],
  ['CREDIT_CARD', 'amex 378282246310005', '378282246310005'],
  ['CREDIT_CARD', '{"card":"6011111111111117"}', '6011111111111117'],
  ['IBAN_CODE', 'IBAN DE89 3704 0044 0532 0130 00 ok', 'DE89 3704 0044 0532 0130 00'],
  ['IBAN_CODE', 'GB82WEST12345698765432', 'GB82WEST12345698765432'],
  ['IBAN_CODE', 'iban fr1420041010050500013m02606', 'fr1420041010050500013m02606'],
  ['IBAN_CODE', 'NO9386011117947', 'NO9386011117947'],
  ['US_SSN', 'SSN 536-22-1457', '536-22-1457'],
  ['US_SSN', 'SSN 536 22 1457', '536 22 1457'],
  ['US_SSN', 'ssn: 536221457', '536221457'],
  ['IP_ADDRESS', 'from 192.168.1.20.', '192.168.1.20'],
  ['IP_ADDRESS', 'upstream 10.0.0.7:8080 refused', '10.0.0.7'],
  ['IP_ADDRESS', 'GET http://172.16.4.2/health', '172.16.4.2'],
  ['IP_ADDRESS', 'v6 2001:db8:85a3::8a2e:370:7334 ok', '2001:db8:85a3::8a2e:370:7334'],
  ['IP_ADDRESS', 'v6 fe80::1ff:fe23:4567:890a', 'fe80::1ff:fe23:4567:890a'],
  ['IP_ADDRESS', 'mapped ::ffff:192.0.2.128', '::ffff:192.0.2.128'],
  ['IP_ADDRESS', '[2001:db8::1]:443', '2001:db8::1'],
  ['CRYPTO', 'btc 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2', '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2'],
  ['CRYPTO', 'btc 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy', '3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy'],
  ['CRYPTO', 'btc bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4', 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4'],
  ['CRYPTO', 'taproot bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0', 'bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0'],
  ['SECRET', 'key AKIAIOSFODNN7EXAMPLE here', 'AKIAIOSFODNN7EXAMPLE', 'aws_access_key_id'],
  ['SECRET', 'ghp_16C7e42F292c6912E7710c838347Ae178B4a', 'ghp_16C7e42F292c6912E7710c838347Ae178B4a', 'github_token'],
  ['SECRET', 'token glpat-xxxxxxxxxxxxxxxxxxxx1 end', 'glpat-xxxxxxxxxxxxxxxxxxxx1', 'gitlab_token'],
  ['SECRET', 'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx', 'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx', 'slack_token'],
  ['SECRET', 'OPENAI_KEY is sk-proj-Abcdefghijklmnop1234567890QRSTuvwx', 'sk-proj-Abcdefghijklmnop1234567890QRSTuvwx', 'openai_api_key'],
  ['SECRET', 'sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ-xyzAA', 'sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ-xyzAA', 'anthropic_api_key'],
  ['SECRET', 'AIzaSyA1234567890abcdefghijklmnopqrstuv', 'AIzaSyA1234567890abcdefghijklmnopqrstuv', 'google_api_key'],
  ['SECRET', 'stripe sk_live_51H8abcdefghijklmnop', 'sk_live_51H8abcdefghijklmnop', 'stripe_key'],
  ['SECRET', 'Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U', 'jwt'],
  ['SECRET', '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----', '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----', 'private_key'],
  ['SECRET', '{"pem":"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\\n-----END PRIVATE KEY-----"}', '-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\\n-----END PRIVATE KEY-----', 'private_key'],
  ['SECRET', 'postgres://admin:s3cr3t#1@db:5432/x', 's3cr3t#1', 'url_password'],
  ['SECRET', 'redis://:hunter2@cache:6379', 'hunter2', 'url_password'],
  ['SECRET', 'Server=db;User Id=sa;Password=P@ssw0rd!;Encrypt=true', 'P@ssw0rd!', 'password'],
  ['SECRET', '{"password": "correct horse battery"}', 'correct horse battery', 'password'],
  ['SECRET', '{\\"client_secret\\": \\"abc\\\\\\"def\\"}', 'abc\\\\\\"def', 'secret'],
  ['SECRET', 'export GITHUB_TOKEN=whatever-it-is', 'whatever-it-is', 'token'],
  ['SECRET', 'db:\n  password: two words here\n', 'two words here', 'password'],
  ['SECRET', "{'api_key': 'k1'}", 'k1', 'api_key'],
  ['SECRET', 'the password is Summer2024!', 'Summer2024!', 'password'],
  ['US_SSN', '{"ssn": "not-even-digits"}', 'not-even-digits'],
  // Structured data: under a quoted key any shape counts, even one the SSA never issues.
  ['US_SSN', '{"ssn": "000-12-3456"}', '000-12-3456'],
  ['US_SSN', 'SSN: «536-22-1457»', '536-22-1457'],
  ['US_SSN', 'done with the ticket. [810-22-1352] next', '810-22-1352'],
  ['US_SSN', 'SSN no. 512-34-7788', '512-34-7788'],
  ['PHONE_NUMBER', 'said their phone is +4915123456789 — ok', '+4915123456789'],
  ['PHONE_NUMBER', 'BR +5511912345678.', '+5511912345678'],
  ['PHONE_NUMBER', 'call 004917012345678 now', '004917012345678'],
  ['PHONE_NUMBER', 'phone=+44 20 7946 0958/ref=12', '+44 20 7946 0958'],
  ['PHONE_NUMBER', 'numbers +1 415-555-2671/+1 415-555-2672', '+1 415-555-2672'],
  ['PHONE_NUMBER', '| Dana | 07579559535 |', '07579559535'],
  ['PHONE_NUMBER', 'the tool returned 0738826037 for her', '0738826037'],
  ['PHONE_NUMBER', 'IN 09352665085,', '09352665085'],
  ['PHONE_NUMBER', 'DE 01701234567', '01701234567'],
  ['CREDIT_CARD', 'amex "3757 7128 0185 607"', '3757 7128 0185 607'],
  ['CREDIT_CARD', '| 4242-4576-40674 |', '4242-4576-40674'],
  ['CREDIT_CARD', 'paid by card for order: 4111111111111111', '4111111111111111'],
  ['IBAN_CODE', 'iban DE36-8825-4165-2769-2562-13 ok', 'DE36-8825-4165-2769-2562-13'],
  ['SECRET', 'url https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX ok', 'hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX', 'slack_webhook'],
  ['SECRET', 'token xapp-1-A0123BCDEF-4567890123-0a1b2c3d4e5f60718293a4b5c6d7e8f9', 'xapp-1-A0123BCDEF-4567890123-0a1b2c3d4e5f60718293a4b5c6d7e8f9', 'slack_token'],
  ['SECRET', 'value=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', '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', 'google_oauth_client_secret'],
  ['SECRET', 'postgres://app:p@ss8dHyCH@db.example.com:5432/x', 'p@ss8dHyCH', 'url_password'],
  ['SECRET', 'https://user:pw12@host.example?next=a@b.com', 'pw12', 'url_password'],
  ['SECRET', 'AccountName=acme;AccountKey=Ehh6Ualhk9abcdEFGH1234567890abcdEF+/34567890ab==;EndpointSuffix=core.windows.net', 'Ehh6Ualhk9abcdEFGH1234567890abcdEF+/34567890ab==', 'api_key'],
  ['SECRET', 'credential: «AKIAIOSFODNN7EXAMPLE»', 'AKIAIOSFODNN7EXAMPLE', 'aws_access_key_id'],
  ['SECRET', 'curl -u admin:curlPass! https://api.example.com', 'curlPass!', 'basic_auth_password'],
  ['SECRET', 'http -a alice.w@example.com:T0SDwB!exG16 GET x', 'T0SDwB!exG16', 'basic_auth_password'],
  ['SECRET', 'machine api.example.com login bob password f20b20de-9a1c', 'f20b20de-9a1c', 'password'],
  ['SECRET', '//registry.npmjs.org/:_authToken=npm_oHktAbCdEfGhIjKlMnOpQrStUvWxYz012345', 'npm_oHktAbCdEfGhIjKlMnOpQrStUvWxYz012345'],
  ['SECRET', 'RABBITMQ_DEFAULT_PASS=kmwVFfDzuI-hcYGa', 'kmwVFfDzuI-hcYGa', 'password'],
  ['SECRET', 'Ocp-Apim-Subscription-Key = fb8d1505aa', 'fb8d1505aa', 'api_key'],
  ['SECRET', 'card pin = 4821', '4821', 'pin'],
  ['SECRET', 'username=\\"app\\" password=\\"3eZgOE6Zr3-SDvil\\";', '3eZgOE6Zr3-SDvil', 'password'],
  ['SECRET', '{"out": "A=1\\nDB_PASSWORD=oHtzJsK2\\nB=2"}', 'oHtzJsK2', 'password'],
  ['SECRET', '"password"=>"G1xYrm!WAGwb#96"', 'G1xYrm!WAGwb#96', 'password'],
  ['SECRET', "define( 'DB_PASSWORD', 'q2So5c!0Ngm4#58' );", 'q2So5c!0Ngm4#58', 'password'],
  ['SECRET', 'docker login --password eyJwYXlsb2FkIjoi ghcr.io', 'eyJwYXlsb2FkIjoi', 'password'],
  ['SECRET', 'password := "s3cr3tXY"', 's3cr3tXY', 'password'],
  ['SECRET', String.raw`{"a":"{\"b\":\"{\\\"password\\\":\\\"hQtKLU09EU-6vEvs\\\"}\"}"}`, 'hQtKLU09EU-6vEvs', 'password'],
  ['SECRET', "$ docker login -u ci-bot -p 'QAyfKa!3taOe#74' registry.gitlab.com", 'QAyfKa!3taOe#74', 'password'],
  ['SECRET', '      - name: API_KEY\n        value: "fKMnbrpn8sWpxXLDizcdVNKjrB1dnAPf"\n', 'fKMnbrpn8sWpxXLDizcdVNKjrB1dnAPf', 'api_key'],
  ['SECRET', "define( 'AUTH_KEY', 'xv;Yk{%YDaQ?On6yAlnJ|,2qa' );", 'xv;Yk{%YDaQ?On6yAlnJ|,2qa', 'secret'],
  // A key used as the user name is found too.
  ['SECRET', 'curl https://api.stripe.com/v1/charges -u sk_live_8MFiLEVCvBEmrJZowifJXDUy: ok', 'sk_live_8MFiLEVCvBEmrJZowifJXDUy', 'stripe_key'],
  ['SECRET', 'git clone https://ghp_16C7e42F292c6912E7710c838347Ae178B4a:x-oauth-basic@github.com/org/repo', 'ghp_16C7e42F292c6912E7710c838347Ae178B4a', 'github_token'],
  // A quoted value runs to its closing quote.
  ['SECRET', 'redis:\n  password: \'two words here\'\n', 'two words here', 'password'],
  ['SECRET', 'export ADMIN_PASSWORD="open sesame 42"', 'open sesame 42', 'password'],
  ['SECRET', 'client.login(user="bob", password="hello world 9")', 'hello world 9', 'password'],
  ['EMAIL_ADDRESS', 'email:jane@example.com', 'jane@example.com'],
  ['EMAIL_ADDRESS', 'GET /api/v1/users/jane.doe@example.com/profile 200', 'jane.doe@example.com'],
];

for (const [type, text, value, subtype] of POSITIVES) {
  test(`finds ${type}${subtype ? '/' + subtype : ''} in ${JSON.stringify(text).slice(0, 60)}`, () => {
    assertFinds(text, type, value, subtype);
  });
}

const LOOK_ALIKES: string[] = [
  'request 550e8400-e29b-41d4-a716-446655440000 done',
  'commit 3f786850e387550fdab836ed7e6dc881de23001b and 4111111111111111abcdef0123456789abcdef01',
  'short sha 4b825dc',
  'order #20240115 and ORD-2024-118823 and order 100234455667',
  'card 4111 1111 1111 1112 fails Luhn',
  'IBAN DE89 3704 0044 0532 0130 01 fails mod 97',
  'IBAN DE89370400440532013 has the wrong length',
  'ssn 000-12-3456, 666-12-3456, 900-12-3456, 123-00-4567, 123-45-0000, 078-05-1120',
  'at 2024-01-15T10:30:00.123Z and 2024-01-15 10:30:00 and epoch 1705314600000 and 1705314600',
  'price $1,299.99 or 1 299,00 EUR or 4.111,11',
  'ISBN 978-3-16-148410-0 and ISBN 0-306-40615-2',
  'version v1.2.3, release 2.14.0.1, build 10.0.19045.3803, OID 1.3.6.1.4.1.311',
  'colour #ff00aa and #1a2b3c',
  'UPS 1Z999AA10123456784, FedEx 7489 2934 1234, USPS 9400 1000 0000 0000 0000 00',
  'time 10:30:00 and MAC 00:1a:2b:3c:4d:5e and std::vector and a::b',
  'icon@2x.png and npm i left-pad@1.3.0 and @scope/pkg and user@localhost',
  'not an ip 300.1.2.3 or 192.168.1.256 or 01.02.03.04',
  'btc-ish 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3 (bad checksum)',
  'bech32 bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5 (bad checksum)',
  '"max_tokens": 1024, "token_count": 77, "tokens": 5, "token_type": "Bearer"',
  'sk-learn and task-1234567890abcdefghij and risk-assessment',
  'the password is correct and the token: expired',
  'customer_id 4155552671 and 15.01.2024 and 2024.01.15',
  'postgres://user:${DB_PASSWORD}@db/x and https://user:***@host',
  'eyJhbGciOiJIUzI1NiJ9 alone is not a JWT',
  'parcel 1234 5678 9012 3456 7890 and account 0012-3456-7890-1234',
  // Under a bare key or in prose, an SSN-shaped value gets the SSN's validation.
  'their SSN is 000-21-8890, ssn=666-46-9011, SSN: 900-12-3456',
  'at +40.7128-074.0060/ (ISO 6709) and ISBN-10 0743273567',
  'git clone git@github.com:acme/payments-api.git',
  'padded 0012345678901 and code 0034 7515 9044',
  // Windows of longer runs of four-digit groups, and a barcode, are not cards.
  'USPS 9205 5902 2287 0018 3085 19 and license 4293 1969 7809 9392 1762 5918',
  '0000000 2000 4000 6000 8000 1000 3000 5000 7000',
  'EAN 4066915560707',
  '"material_no":"07471933300", order 07471933300',
  'EUI-64 00:1a:2b:ff:fe:3c:4d:5e and See §3.2.6.1 of RFC 9110',
  'password=${DB_PASSWORD} and "api_key": "YOUR_API_KEY_HERE"',
  'https://jane@example.com/x and ssh://git@github.com/acme/x',
  'Part no. 512-34-7788 in stock, sku: 512-34-7788, "order_id": "512-34-7788"',
  'docker run -u 1000:1000 img && git push -u origin main',
  '"order_id": "4891549782944987", invoice #4111111111111111',
  // Placeholders and references under sensitive keys.
  'NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}\nREDIS_PASSWORD=changeme\npassword=[REDACTED]\nset PASSWORD=%DB_PASSWORD%',
  'Authorization: Bearer <token>\napi_key = os.getenv("OPENAI_API_KEY")\npassword := os.Getenv("DB_PASSWORD")',
  'token: vault:secret/data/ci#github_token and stripe.api_key = settings.STRIPE_KEY',
  'secret_id = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-password-AbC1De"',
  'Message-ID: <VaSBDKOB4XXNU2tUMPlJ@mail.acme-corp.io>',
  '- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef: {name: db}\n- name: LOG_LEVEL\n  value: debug',
  'print("password", "is required"); the test passed, bypass it; ls -a /tmp; git commit -a -m "fix: x"',
];

test('a number next to another token is still found; a 00 number inside a sequence of digit groups is not', () => {
  // After a version, a date, an id with letters or '#', or a number found just before.
  assertFinds('version 9.9.3.925 020 5310 1888 today', 'PHONE_NUMBER', '020 5310 1888');
  assertFinds('born 26.10.1993 07417 139108', 'PHONE_NUMBER', '07417 139108');
  assertFinds('ID #258807 962 883 3971', 'PHONE_NUMBER', '962 883 3971');
  assertFinds('ref ORD-2020-566597 420-925-6021,', 'PHONE_NUMBER', '420-925-6021');
  assertFinds('mobile +44 7067 734500 900-731-6182.', 'PHONE_NUMBER', '900-731-6182');
  assertFinds('ref r875 01 51 40 95 54', 'PHONE_NUMBER', '01 51 40 95 54');
  // A card or an SSN right after a phone number is not swallowed by it.
  assertFinds('mobile +61 459 147 252 5517 9941 9530 0628 ok', 'CREDIT_CARD', '5517 9941 9530 0628');
  assertFinds('mobile +61 459 147 252 5517 9941 9530 0628 ok', 'PHONE_NUMBER', '+61 459 147 252');
  assertFinds('mobile +49 30 2514944 177 46 3600\n', 'US_SSN', '177 46 3600');
  // After a plain number or digit group (an id, a count).
  assertFinds('order 772001726429 1-697-818-2516, ok', 'PHONE_NUMBER', '1-697-818-2516');
  assertFinds('"token_count": 8587 087996 75821\n', 'PHONE_NUMBER', '087996 75821');
  assertFinds('ref 8610-81-55 493.393.7750,', 'PHONE_NUMBER', '493.393.7750');
  // Inside a run of pure digit groups (a tracking number) nothing is a phone number.
  assert.deepEqual(found('tracking 9400 1809 4901 4952 6017 80'), []);
  assert.deepEqual(found('USPS 9400 1538 9079 0064 4729 79'), []);
});

for (const text of LOOK_ALIKES) {
  test(`no finding in look-alike ${JSON.stringify(text).slice(0, 60)}`, () => {
    assert.deepEqual(found(text), []);
  });
}

test('findings are sorted, non-overlapping, with UTF-16 offsets', () => {
  const text = '😀 é mail a@b.example, card 4111111111111111, key AKIAIOSFODNN7EXAMPLE 😀';
  const fs = classifier.scanText(text);
  assert.deepEqual(
    fs.map((f) => [f.type, text.slice(f.start, f.end)]),
    [
      ['EMAIL_ADDRESS', 'a@b.example'],
      ['CREDIT_CARD', '4111111111111111'],
      ['SECRET', 'AKIAIOSFODNN7EXAMPLE'],
    ],
  );
  assert.equal(fs[0]!.start, text.indexOf('a@b'));
  for (let i = 1; i < fs.length; i++) assert.ok(fs[i - 1]!.end <= fs[i]!.start);
});

test('overlaps prefer secrets, then validated, then longer spans', () => {
  // The URL password would also read as the local part of an e-mail address.
  const text = 'mysql://root:pa55word@db.example.com/app';
  assert.deepEqual(found(text), [{ type: 'SECRET', value: 'pa55word', subtype: 'url_password' }]);
  // A JWT after "Bearer" is reported once, as a JWT.
  const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefghijklmnop';
  assert.deepEqual(found(`Authorization: Bearer ${jwt}`), [{ type: 'SECRET', value: jwt, subtype: 'jwt' }]);
});

test('types option restricts detection', () => {
  const only = createClassifier({ types: ['EMAIL_ADDRESS'] });
  const text = 'a@b.example 4111111111111111 AKIAIOSFODNN7EXAMPLE {"password":"x1"}';
  assert.deepEqual(only.scanText(text).map((f) => f.type), ['EMAIL_ADDRESS']);
});

import { createClassifier } from '../../../services/classifier/index.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  base58CheckAddressValid,
  ibanValid,
  luhnValid,
  mod97Valid,
  segwitAddressValid,
  ssnValid,
  verhoeffValid,
} from '../../../services/classifier/checksums.js';

test('Luhn', () => {
  assert.equal(luhnValid('4111111111111111'), true);
  assert.equal(luhnValid('79927398713'), true);
  assert.equal(luhnValid('4111111111111112'), false);
  assert.equal(luhnValid(''), false);
  assert.equal(luhnValid('41x1'), false);
});

test('IBAN: country length and mod 97', () => {
  assert.equal(ibanValid('DE89370400440532013000'), true);
  assert.equal(ibanValid('GB82WEST12345698765432'), true);
  assert.equal(ibanValid('gb82west12345698765432'), true);
  assert.equal(ibanValid('DE89370400440532013001'), false); // checksum
  assert.equal(ibanValid('DE8937040044053201300'), false); // length
  assert.equal(ibanValid('ZZ89370400440532013000'), false); // country
  assert.equal(mod97Valid('3214282912345698765432161182'), true);
});

test('US SSN ranges', () => {
  assert.equal(ssnValid('536221457'), true);
  for (const bad of ['000221457', '666221457', '936221457', '536001457', '536220000', '111111111']) {
    assert.equal(ssnValid(bad), false, bad);
  }
});

test('published sample SSNs are masked only next to an SSN keyword', () => {
  const classifier = createClassifier();
  const types = (text: string) => classifier.scanText(text).map((f) => f.type);
  assert.deepEqual(types('My SSN is 123-45-6789.'), ['US_SSN']);
  assert.deepEqual(types('social security number: 078-05-1120'), ['US_SSN']);
  assert.deepEqual(types('Example 123-45-6789 from the documentation'), []);
});

test('Bitcoin base58check and bech32/bech32m', () => {
  assert.equal(base58CheckAddressValid('1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2'), true);
  assert.equal(base58CheckAddressValid('3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy'), true);
  assert.equal(base58CheckAddressValid('1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3'), false);
  assert.equal(base58CheckAddressValid('1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN0'), false); // 0 is not base58
  assert.equal(segwitAddressValid('bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4'), true);
  assert.equal(segwitAddressValid('BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4'), true);
  assert.equal(segwitAddressValid('bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0'), true);
  assert.equal(segwitAddressValid('bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5'), false);
  assert.equal(segwitAddressValid('bc1Qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4'), false); // mixed case
  // A v1 program with a bech32 (not bech32m) checksum is invalid (BIP 350).
  assert.equal(segwitAddressValid('bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx'), false);
});

test('Verhoeff', () => {
  assert.equal(verhoeffValid('2363'), true);
  assert.equal(verhoeffValid('2364'), false);
});

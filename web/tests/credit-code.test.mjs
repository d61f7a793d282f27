// The page's credit-code check against the cases the server's check is pinned with
// (crates/domain/src/credit_code.rs): the page and the server must agree.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkCreditCode } from '../assets/credit-code.js';

test('accepts published codes, any case, spaces around', () => {
  for (const code of ['91350100M000100Y43', '91110000600037341L', '91440300MA5FCTXX0J']) assert.deepEqual(checkCreditCode(code), { ok: true, code });
  assert.deepEqual(checkCreditCode('  91440300ma5fctxx0j '), { ok: true, code: '91440300MA5FCTXX0J' });
});

test('names the expected check digit', () => {
  assert.deepEqual(checkCreditCode('91310000MA1FL4TF2X'), { ok: false, problem: 'check', expected: 'W', found: 'X' });
});

test('reports the length, and a character the standard does not allow with its position', () => {
  assert.deepEqual(checkCreditCode('9135010'), { ok: false, problem: 'length', length: 7 });
  assert.deepEqual(checkCreditCode('91350100M000100I43'), { ok: false, problem: 'character', position: 16, character: 'I' });
});

test('a sum divisible by 31 gives check character 0', () => {
  const ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
  const zero = [];
  for (let tail = 0; tail < 2000 && !zero.length; tail++) {
    const body = `9111000010${String(tail).padStart(7, '0')}`;
    const valid = [...ALPHABET].filter((c) => checkCreditCode(body + c).ok);
    assert.equal(valid.length, 1, body);
    if (valid[0] === '0') zero.push(body);
  }
  assert.ok(zero.length, 'no body with check digit 0 among the candidates');
});

// The unified social credit code (统一社会信用代码, GB 32100-2015) check, as the server does it
// (crates/domain/src/credit_code.rs): 18 characters from a 31-character alphabet, the last one a
// check character over the first 17 with weights 3^i mod 31. The server checks again.

const ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/**
 * {ok: true, code} or {ok: false, problem: 'length' | 'character' | 'check', ...details}.
 * Spaces around and lower case are accepted, as on the server.
 */
export function checkCreditCode(input) {
  const code = input.trim().toUpperCase();
  const chars = [...code];
  let sum = 0;
  for (const [i, c] of chars.entries()) {
    const value = ALPHABET.indexOf(c);
    if (value < 0) return { ok: false, problem: 'character', position: i + 1, character: c };
    if (i < 17) sum += value * WEIGHTS[i];
  }
  if (chars.length !== 18) return { ok: false, problem: 'length', length: chars.length };
  const expected = ALPHABET[(31 - (sum % 31)) % 31];
  if (chars[17] !== expected) return { ok: false, problem: 'check', expected, found: chars[17] };
  return { ok: true, code };
}

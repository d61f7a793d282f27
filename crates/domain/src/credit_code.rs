//! The unified social credit code (统一社会信用代码, GB 32100-2015).
//!
//! Every Chinese company has one; partners register with it, and its characters 9–17 are the
//! organisation code that T/CEC 102 uses as the 9-character `OperatorID`. Parsing it (instead of
//! checking a string and passing the string around) means a `CreditCode` in hand is always valid.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The 31 characters the standard allows (no I, O, S, V, Z), in check-digit order.
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weight of each of the first 17 positions: 3^i mod 31.
const WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "91440300MA5FCTXX0J"))]
pub struct CreditCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreditCodeError {
    #[error("must be 18 characters, got {0}")]
    Length(usize),
    #[error("character {character:?} at position {position} is not allowed (digits and A–Y except I, O, S, V, Z)")]
    Character { position: usize, character: char },
    #[error("check digit is {found:?} but should be {expected:?}; please re-check the code")]
    CheckDigit { expected: char, found: char },
}

impl CreditCode {
    /// Accepts surrounding spaces and lower case (people paste codes), stores upper case.
    pub fn parse(input: &str) -> Result<Self, CreditCodeError> {
        let code = input.trim().to_ascii_uppercase();
        let count = code.chars().count();
        if count != 18 {
            return Err(CreditCodeError::Length(count));
        }
        let mut sum = 0u32;
        for (position, character) in code.chars().enumerate() {
            let value = ALPHABET.iter().position(|&c| c as char == character).ok_or(CreditCodeError::Character { position: position + 1, character })?;
            if position < 17 {
                sum += value as u32 * WEIGHTS[position];
            }
        }
        let expected = ALPHABET[((31 - sum % 31) % 31) as usize] as char;
        let found = code.as_bytes()[17] as char;
        if expected != found {
            return Err(CreditCodeError::CheckDigit { expected, found });
        }
        Ok(Self(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 9-character organisation code (组织机构代码), characters 9 to 17, which T/CEC 102
    /// uses as the operator's `OperatorID`.
    pub fn organisation_code(&self) -> &str {
        &self.0[8..17]
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CreditCode {
    type Error = CreditCodeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CreditCode> for String {
    fn from(value: CreditCode) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_published_codes() {
        for code in ["91350100M000100Y43", "91110000600037341L", "91440300MA5FCTXX0J"] {
            assert_eq!(CreditCode::parse(code).unwrap().as_str(), code);
        }
    }

    #[test]
    fn normalises_case_and_spaces() {
        let code = CreditCode::parse("  91440300ma5fctxx0j ").unwrap();
        assert_eq!(code.as_str(), "91440300MA5FCTXX0J");
        assert_eq!(code.organisation_code(), "MA5FCTXX0");
    }

    #[test]
    fn rejects_wrong_check_digit() {
        assert_eq!(CreditCode::parse("91310000MA1FL4TF2X"), Err(CreditCodeError::CheckDigit { expected: 'W', found: 'X' }));
    }

    #[test]
    fn rejects_wrong_length_and_characters() {
        assert_eq!(CreditCode::parse("9135010"), Err(CreditCodeError::Length(7)));
        assert_eq!(CreditCode::parse("91350100M000100I43"), Err(CreditCodeError::Character { position: 16, character: 'I' }));
    }

    #[test]
    fn check_digit_zero_case() {
        // A sum divisible by 31 gives check character '0', not an out-of-range index.
        let mut found = false;
        for tail in 0..2000u32 {
            let body = format!("9111000010{tail:07}");
            for c in ALPHABET.iter() {
                let candidate = format!("{body}{}", *c as char);
                if CreditCode::parse(&candidate).is_ok() {
                    if *c == b'0' {
                        found = true;
                    }
                    break;
                }
            }
        }
        assert!(found, "no body with check digit 0 among the candidates");
    }
}

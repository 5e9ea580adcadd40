//! The code a person reads out: `NAMEPLATE-word-word`, e.g. `42-orbit-lemon`.
//!
//! The nameplate names the room on the signaling server; the two words are the password
//! (16 bits) and never leave the two peers. A nameplate that starts with a 0 (`042-...`)
//! names a room on a sender's own rendezvous on its local network, which no signaling
//! server hands out. This module only parses and prints codes; it knows nothing of servers
//! or keys.

use std::fmt;
use std::str::FromStr;

use rand::Rng;

use crate::wordlist;

/// Longest nameplate accepted: servers hand out short numbers, eight digits is far beyond.
const MAX_NAMEPLATE_DIGITS: usize = 8;

/// The room number the signaling server allocated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Nameplate(String);

impl Nameplate {
    /// The nameplate as sent to the server.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it names a room on a sender's own rendezvous on its local network (it
    /// starts with a 0): such a room is looked for there, and never on a signaling server.
    pub fn is_local_network(&self) -> bool {
        self.0.starts_with('0')
    }
}

impl FromStr for Nameplate {
    type Err = CodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() || s.len() > MAX_NAMEPLATE_DIGITS || !s.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(CodeError::BadNameplate(s.to_owned()));
        }
        // Canonical form: a number without leading zeros, after one 0 for a room on the
        // local network ("0042" and "042" name the same one; "42" is another, a server's).
        let number = s.trim_start_matches('0');
        if number.is_empty() {
            return Err(CodeError::BadNameplate(s.to_owned()));
        }
        let mark = if number.len() < s.len() { "0" } else { "" };
        Ok(Nameplate(format!("{mark}{number}")))
    }
}

impl fmt::Display for Nameplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The two secret words, stored as the bytes they stand for; or, for a transfer straight
/// to a nearby device, no secret at all.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(Secret);

#[derive(Clone, PartialEq, Eq)]
enum Secret {
    Words([u8; 2]),
    Nearby,
}

impl Password {
    /// A fresh random password.
    pub fn random() -> Self {
        Password(Secret::Words(rand::thread_rng().gen()))
    }

    /// The public "password" of a transfer to a device chosen from the nearby list. The
    /// PAKE then is a plain key agreement: what protects it is that both people compare
    /// the verification words before the receiver accepts.
    pub fn nearby() -> Self {
        Password(Secret::Nearby)
    }

    /// The words joined by `-`, the form both peers feed into the PAKE (`nearby` for
    /// [`Password::nearby`], which no typed code can produce).
    pub fn words(&self) -> String {
        match self.0 {
            Secret::Words([a, b]) => format!(
                "{}-{}",
                wordlist::WORDS[usize::from(a)],
                wordlist::WORDS[usize::from(b)]
            ),
            Secret::Nearby => "nearby".to_owned(),
        }
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Secret: never in logs.
        f.write_str("Password(..)")
    }
}

/// A whole code: nameplate and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    nameplate: Nameplate,
    password: Password,
}

impl Code {
    /// Joins a nameplate and a password.
    pub fn new(nameplate: Nameplate, password: Password) -> Self {
        Self {
            nameplate,
            password,
        }
    }

    /// The room part.
    pub fn nameplate(&self) -> &Nameplate {
        &self.nameplate
    }

    /// The secret part.
    pub fn password(&self) -> &Password {
        &self.password
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.nameplate, self.password.words())
    }
}

impl FromStr for Code {
    type Err = CodeError;

    /// Accepts what people type: any case, spaces or dashes between the parts.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lowered = s.trim().to_lowercase();
        let parts: Vec<&str> = lowered
            .split(|c: char| c == '-' || c.is_whitespace())
            .filter(|p| !p.is_empty())
            .collect();
        match parts.as_slice() {
            [] => Err(CodeError::Empty),
            [nameplate, w1, w2] => {
                let nameplate: Nameplate = nameplate.parse()?;
                let a =
                    wordlist::index_of(w1).ok_or_else(|| CodeError::UnknownWord((*w1).into()))?;
                let b =
                    wordlist::index_of(w2).ok_or_else(|| CodeError::UnknownWord((*w2).into()))?;
                Ok(Code::new(nameplate, Password(Secret::Words([a, b]))))
            }
            [first, ..] if first.parse::<Nameplate>().is_err() => {
                Err(CodeError::BadNameplate((*first).into()))
            }
            _ => Err(CodeError::Shape),
        }
    }
}

/// Why a typed code is not a code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodeError {
    /// Nothing was typed.
    #[error("enter the code the sender gave you, like 42-orbit-lemon")]
    Empty,
    /// The first part is not a number.
    #[error("a code starts with a number, like the 42 in 42-orbit-lemon (got \"{0}\")")]
    BadNameplate(String),
    /// A word is not in the word list.
    #[error("\"{0}\" is not one of Toss's code words; check the spelling")]
    UnknownWord(String),
    /// Not three parts.
    #[error("a code is a number and two words, like 42-orbit-lemon")]
    Shape,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_people_type() {
        let code: Code = "42-orbit-lemon".parse().expect("valid");
        assert_eq!(code.to_string(), "42-orbit-lemon");
        assert_eq!(code.nameplate().as_str(), "42");
        assert!(!code.nameplate().is_local_network());
        let loose: Code = "  42 Orbit  LEMON ".parse().expect("valid");
        assert_eq!(loose, code);
    }

    #[test]
    fn a_leading_zero_marks_a_room_on_the_local_network() {
        let code: Code = "042-orbit-lemon".parse().expect("valid");
        assert_eq!(code.nameplate().as_str(), "042");
        assert!(code.nameplate().is_local_network());
        assert_eq!(code.to_string(), "042-orbit-lemon");
        let typed: Code = " 0042 orbit lemon".parse().expect("valid");
        assert_eq!(typed, code, "more zeros name the same room");
        assert_ne!(code, "42-orbit-lemon".parse::<Code>().expect("valid"));
        for no_room in ["0", "000"] {
            assert_eq!(
                format!("{no_room}-orbit-lemon").parse::<Code>(),
                Err(CodeError::BadNameplate(no_room.into()))
            );
        }
    }

    #[test]
    fn refuses_with_a_reason() {
        assert_eq!("".parse::<Code>(), Err(CodeError::Empty));
        assert_eq!(
            "orbit-lemon-42".parse::<Code>(),
            Err(CodeError::BadNameplate("orbit".into()))
        );
        assert_eq!(
            "42-orbit-lemn".parse::<Code>(),
            Err(CodeError::UnknownWord("lemn".into()))
        );
        assert_eq!("42-orbit".parse::<Code>(), Err(CodeError::Shape));
        assert_eq!(
            "123456789-orbit-lemon".parse::<Code>(),
            Err(CodeError::BadNameplate("123456789".into()))
        );
    }

    #[test]
    fn random_codes_round_trip() {
        for _ in 0..200 {
            let code = Code::new("7".parse().expect("valid"), Password::random());
            assert_eq!(code.to_string().parse::<Code>().expect("round trip"), code);
        }
    }

    #[test]
    fn password_is_not_debug_printed() {
        let code: Code = "1-acid-acorn".parse().expect("valid");
        assert!(!format!("{code:?}").contains("acorn"));
    }
}

//! User codes (RFC 8628 §6.1): 8 characters from 20 consonants — no vowels, so no words, and
//! nothing to confuse (0/O, 1/I) — shown as `WDJB-MJHT`, typed in any case, with or without
//! the dash or spaces.

use rand::Rng;

const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
const LEN: usize = 8;

/// A fresh code, normalized (`WDJBMJHT`).
pub fn generate() -> String {
    let mut rng = rand::rng();
    (0..LEN)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// `WDJBMJHT` → `WDJB-MJHT`.
pub fn display(code: &str) -> String {
    format!("{}-{}", &code[..LEN / 2], &code[LEN / 2..])
}

/// What the user typed, as stored; `None` when it cannot be a code at all.
pub fn normalize(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_eight_letters_of_the_alphabet() {
        for _ in 0..100 {
            let code = generate();
            assert_eq!(normalize(&code).as_deref(), Some(code.as_str()));
            assert_eq!(display(&code).len(), 9);
        }
    }

    #[test]
    fn typing_is_case_and_dash_insensitive() {
        for typed in ["WDJB-MJHT", "wdjb-mjht", "wdjbmjht", " WdJb MjHt "] {
            assert_eq!(normalize(typed).as_deref(), Some("WDJBMJHT"), "{typed}");
        }
        for bad in ["WDJB-MJH", "WDJB-MJHTX", "AEIO-UUUU", "WDJB-MJH1", ""] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
    }
}

//! Text from outside (dbt Cloud, the warehouse, git, files) never drives the terminal: a job
//! name holding `ESC ] 52 ; c ; …` would otherwise write the clipboard, `ESC ] 0 ;` the
//! window title. Every human line goes through [`escape`] on its way out (see `ui`), so no
//! caller has to remember; `--json` keeps the real strings (JSON escapes them itself).

use std::borrow::Cow;
use std::fmt::Write;

/// `s` with every control character made visible as `\u{1b}`-style text: C0 except newline
/// and tab, DEL, C1 (U+0080–U+009F, which some terminals read as ESC sequences), and the
/// bidirectional overrides that reorder what is shown. Printable text is unchanged.
pub fn escape(s: &str) -> Cow<'_, str> {
    escape_keeping(s, |_| 0)
}

/// As [`escape`], but a sequence starting at an ESC for which `keep` returns a length `n > 0`
/// is copied as it is (`n` bytes): the colour the UI itself paints.
pub fn escape_keeping(s: &str, keep: impl Fn(&str) -> usize) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if c == '\u{1b}' {
            let n = keep(rest);
            if n > 0 {
                out.push_str(&rest[..n]);
                rest = &rest[n..];
                continue;
            }
        }
        if needs_escape(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    match c {
        '\n' | '\t' => false,
        // Bidi embeddings, overrides and isolates (the "Trojan Source" characters).
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        c => c.is_control(),
    }
}

/// The length of the SGR sequence (`ESC [ digits ; … m`, colour and weight only) at the
/// start of `s`, or 0: the only sequence the UI writes on purpose.
pub fn sgr_len(s: &str) -> usize {
    let b = s.as_bytes();
    if b.len() < 3 || b[0] != 0x1b || b[1] != b'[' {
        return 0;
    }
    for (i, &c) in b.iter().enumerate().skip(2).take(32) {
        match c {
            b'0'..=b'9' | b';' => {}
            b'm' => return i + 1,
            _ => return 0,
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn terminal_commands_become_visible_text() {
        let name = "Prod \u{1b}]52;c;ZWNobyBwd25lZA==\u{7}deploy \u{1b}]0;title\u{1b}\\ \u{9b}2J";
        assert_eq!(
            escape(name),
            "Prod \\u{1b}]52;c;ZWNobyBwd25lZA==\\u{7}deploy \\u{1b}]0;title\\u{1b}\\ \\u{9b}2J"
        );
        assert_eq!(escape("a\tb\nc ünïcode ✓"), "a\tb\nc ünïcode ✓");
        assert_eq!(escape("\r\u{7f}\u{202e}"), "\\u{d}\\u{7f}\\u{202e}");
    }

    #[test]
    fn only_colour_is_kept_when_asked() {
        let painted = "\u{1b}[1m\u{1b}[32mOK\u{1b}[0m \u{1b}]0;x\u{7}";
        assert_eq!(
            escape_keeping(painted, sgr_len),
            "\u{1b}[1m\u{1b}[32mOK\u{1b}[0m \\u{1b}]0;x\\u{7}"
        );
        assert_eq!(escape_keeping("\u{1b}[2J", sgr_len), "\\u{1b}[2J");
    }

    proptest! {
        #[test]
        fn no_control_character_survives(s in any::<String>()) {
            let e = escape(&s);
            prop_assert!(!e.chars().any(needs_escape), "{e:?}");
            // Nothing printable is lost: without controls the text is unchanged.
            if !s.chars().any(needs_escape) {
                prop_assert_eq!(e.as_ref(), s.as_str());
            }
        }
    }
}

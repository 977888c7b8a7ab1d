//! Making user input safe to echo: secrets in URLs hidden, long values clipped.
//!
//! Every message that quotes a URL a person typed (access URL, git remote, database URL) goes
//! through `url`, because a token in a URL is a common way to hand one to a tool in CI.

/// `raw` with credentials, query values and the fragment replaced by `***`:
/// `https://user:SECRET@host/?token=T#F` → `https://user:***@host/?token=***#***`.
///
/// Over http(s) a user name alone is hidden too (`https://TOKEN@host` is how many CI systems pass
/// a token to git); over ssh the user name (`git@…`) is kept, since it is never a secret there.
/// Works on strings that are not valid URLs as well: a message about a malformed URL must not
/// leak what the URL held.
pub fn url(raw: &str) -> String {
    redact(raw, true)
}

/// Like [`url`], but a user name in front of a password stays (`https://ci:***@host`) and a
/// lone user name is never hidden: for git remotes, where the user says which account
/// pushes (`git@…`, `ci@…`) and the secret is the password.
pub fn url_keeping_user(raw: &str) -> String {
    redact(raw, false)
}

fn redact(raw: &str, hide_http_users: bool) -> String {
    let (scheme, rest) = match raw.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, raw),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = authority.split_at(at);
            let hides_user = hide_http_users
                && scheme.is_some_and(|s| {
                    let s = s.to_ascii_lowercase();
                    s.starts_with("http") || s.starts_with("postgres")
                });
            match userinfo.split_once(':') {
                Some((user, _)) if !hides_user || user.is_empty() => format!("{user}:***{host}"),
                Some(_) => format!("***:***{host}"),
                None if hides_user => format!("***{host}"),
                None => authority.to_string(),
            }
        }
        None => authority.to_string(),
    };
    // A fragment never reaches the server, so it is where a token is sometimes carried
    // (`…#access_token=…`): hidden like a query value.
    let (tail, fragment) = match tail.split_once('#') {
        Some((t, f)) => (t, Some(f)),
        None => (tail, None),
    };
    let mut tail = match tail.split_once('?') {
        Some((path, query)) => {
            let hidden: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) => format!("{k}=***"),
                    None if pair.is_empty() => String::new(),
                    None => "***".to_string(),
                })
                .collect();
            format!("{path}?{}", hidden.join("&"))
        }
        None => tail.to_string(),
    };
    if let Some(f) = fragment {
        tail.push_str(if f.is_empty() { "#" } else { "#***" });
    }
    match scheme {
        Some(s) => format!("{s}://{authority}{tail}"),
        None => format!("{authority}{tail}"),
    }
}

/// At most `max` characters of `s` (on a char boundary), with a note of how much was cut, so a
/// 25 MB line or a huge response body never floods a terminal or a log.
pub fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((cut, _)) => format!("{}… ({} more bytes)", &s[..cut], s.len() - cut),
    }
}

/// How many characters of user input a message echoes.
pub const ECHO_LIMIT: usize = 200;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_query_values_are_hidden() {
        for (raw, shown) in [
            ("http://user:SECRET@host", "http://***:***@host"),
            ("https://SECRET@host/x", "https://***@host/x"),
            (
                "https://h.example/?token=SECRET&a=1",
                "https://h.example/?token=***&a=***",
            ),
            ("https://h.example?SECRET", "https://h.example?***"),
            (
                "https://h.example/#access_token=SECRET",
                "https://h.example/#***",
            ),
            (
                "https://h.example/x?a=SECRET#SECRET2",
                "https://h.example/x?a=***#***",
            ),
            (
                "https://SECRET@h.example#SECRET2",
                "https://***@h.example#***",
            ),
            ("https://h.example/#", "https://h.example/#"),
            ("user:SECRET@host", "user:***@host"),
            (
                "http://u:p%40ss@127.0.0.1:8080/r.git",
                "http://***:***@127.0.0.1:8080/r.git",
            ),
            (
                "ssh://git@github.com/a/b.git",
                "ssh://git@github.com/a/b.git",
            ),
            (
                "ssh://git:SECRET@github.com/a",
                "ssh://git:***@github.com/a",
            ),
            (
                "postgres://ada:pw@127.0.0.1/db?schema=raw",
                "postgres://***:***@127.0.0.1/db?schema=***",
            ),
            ("git@github.com:a/b.git", "git@github.com:a/b.git"),
            ("https://cloud.getdbt.com", "https://cloud.getdbt.com"),
            ("not a url at all", "not a url at all"),
        ] {
            assert_eq!(url(raw), shown, "{raw}");
            assert!(!url(raw).contains("SECRET"));
        }
    }

    #[test]
    fn long_input_is_clipped_on_a_char_boundary() {
        assert_eq!(clip("short", 10), "short");
        let long = "é".repeat(500);
        let c = clip(&long, 200);
        assert!(c.starts_with(&"é".repeat(200)));
        assert!(c.ends_with("(600 more bytes)"), "{c}");
    }
}

#[cfg(test)]
mod keeping_user_tests {
    use super::*;

    #[test]
    fn git_remotes_keep_their_user_and_lose_the_password() {
        assert_eq!(
            url_keeping_user("https://ci:tok3n@git.example.com/a/b.git"),
            "https://ci:***@git.example.com/a/b.git"
        );
        for kept in [
            "https://git.example.com/a/b.git",
            "git@github.com:a/b.git",
            "/tmp/r.git",
        ] {
            assert_eq!(url_keeping_user(kept), kept);
        }
    }
}

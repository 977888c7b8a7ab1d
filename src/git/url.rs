//! What kind of remote a URL names (SSH, or a local path libgit2 opens directly): a leaf
//! both the push and the whole-objects set-up ask.

/// `ssh://…` or scp-like `user@host:path`.
pub fn is_ssh_url(url: &str) -> bool {
    if let Some((scheme, _)) = url.split_once("://") {
        return matches!(scheme, "ssh" | "git+ssh" | "ssh+git");
    }
    // scp-like: a colon before any slash, and not a Windows drive letter.
    match (url.find(':'), url.find('/')) {
        (Some(c), Some(s)) => c < s && c > 1,
        (Some(c), None) => c > 1,
        _ => false,
    }
}

/// True for a path or `file://` URL (what libgit2's local transport handles).
pub fn is_local_url(url: &str) -> bool {
    if let Some((scheme, _)) = url.split_once("://") {
        return scheme == "file";
    }
    !is_ssh_url(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_urls_are_recognised() {
        assert!(is_ssh_url("ssh://git@github.com/a/b.git"));
        assert!(is_ssh_url("git@github.com:a/b.git"));
        assert!(!is_ssh_url("https://github.com/a/b.git"));
        assert!(!is_ssh_url("file:///tmp/r.git"));
        assert!(!is_ssh_url("/tmp/r.git"));
        assert!(!is_ssh_url("git://127.0.0.1:9418/r.git"));
    }

    #[test]
    fn local_urls_are_paths_and_file_urls() {
        assert!(is_local_url("file:///tmp/r.git"));
        assert!(is_local_url("/tmp/r.git"));
        assert!(is_local_url("../r.git"));
        assert!(!is_local_url("git@github.com:a/b.git"));
        assert!(!is_local_url("https://github.com/a/b.git"));
        assert!(!is_local_url("git://127.0.0.1/r.git"));
    }
}

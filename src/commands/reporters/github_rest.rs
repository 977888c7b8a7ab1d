//! The few GitHub REST calls the pull-request comment needs: list an issue's comments (every
//! page), update one, create one. A leaf: it knows GitHub's API, not the CLI. The token goes
//! only in the `Authorization` header, marked sensitive, to the API's own origin: redirects are
//! not followed and a `Link` to another origin is not.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, LINK};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

/// Comments read at most (100 a page): a pull request with more is not searched further.
const MAX_PAGES: usize = 50;

/// Why a call failed, in words for people: the call, the status and GitHub's message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RestError(String);

/// A repository's issue comments through GitHub's REST API at `base`.
pub struct IssueComments {
    http: reqwest::Client,
    base: url::Url,
    repo: String,
}

/// A comment found: its id and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: i64,
    pub body: String,
}

impl IssueComments {
    /// `api_url` is GitHub's API root (`https://api.github.com`, or GitHub Enterprise's
    /// `https://HOST/api/v3`); `repo` is `OWNER/NAME`.
    pub fn new(api_url: &str, token: &SecretString, repo: &str) -> Result<Self, RestError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let base = url::Url::parse(&format!("{}/", api_url.trim_end_matches('/')))
            .map_err(|e| RestError(format!("GITHUB_API_URL {api_url:?} is not a URL: {e}")))?;
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret().trim()))
            .map_err(|_| {
            RestError("GITHUB_TOKEN holds characters not allowed in an HTTP header".into())
        })?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/vnd.github+json"),
        );
        headers.insert(
            "X-GitHub-Api-Version",
            HeaderValue::from_static("2022-11-28"),
        );
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("datachonk/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| RestError("cannot set up an HTTP client".into()))?;
        Ok(IssueComments {
            http,
            base,
            repo: repo.to_string(),
        })
    }

    fn url(&self, path: &str) -> Result<url::Url, RestError> {
        self.base
            .join(&format!("repos/{}/{path}", self.repo))
            .map_err(|e| RestError(format!("bad API path {path}: {e}")))
    }

    /// The first comment on issue (or pull request) `number` whose body contains `marker`,
    /// reading every page (`Link: rel="next"`).
    pub async fn find(&self, number: i64, marker: &str) -> Result<Option<Comment>, RestError> {
        let mut next = Some(self.url(&format!("issues/{number}/comments?per_page=100"))?);
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            let response = self
                .send(self.http.get(url.clone()), "list the comments")
                .await?;
            next = next_page(response.headers().get(LINK), &self.base);
            let page: Vec<Value> = response
                .json()
                .await
                .map_err(|_| RestError("the comments listing is not the JSON expected".into()))?;
            for c in &page {
                let body = c["body"].as_str().unwrap_or_default();
                if let (Some(id), true) = (c["id"].as_i64(), body.contains(marker)) {
                    return Ok(Some(Comment {
                        id,
                        body: body.to_string(),
                    }));
                }
            }
            if pages == MAX_PAGES {
                break;
            }
        }
        Ok(None)
    }

    /// Replace comment `id`'s body.
    pub async fn update(&self, id: i64, body: &str) -> Result<(), RestError> {
        let url = self.url(&format!("issues/comments/{id}"))?;
        self.send(
            self.http.patch(url).json(&json!({ "body": body })),
            "update the comment",
        )
        .await
        .map(drop)
    }

    /// Add a comment to issue (or pull request) `number`; its id.
    pub async fn create(&self, number: i64, body: &str) -> Result<i64, RestError> {
        let url = self.url(&format!("issues/{number}/comments"))?;
        let response = self
            .send(
                self.http.post(url).json(&json!({ "body": body })),
                "add the comment",
            )
            .await?;
        let created: Value = response.json().await.unwrap_or(Value::Null);
        Ok(created["id"].as_i64().unwrap_or_default())
    }

    /// Send `request`; a non-2xx answer is an error naming `what`, the status and GitHub's
    /// message (never the request's headers).
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<reqwest::Response, RestError> {
        let response = request.send().await.map_err(|e| {
            let why = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "cannot connect"
            } else {
                "request failed"
            };
            RestError(format!(
                "cannot {what} ({} {why})",
                self.base.host_str().unwrap_or("GitHub")
            ))
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let message = body["message"]
            .as_str()
            .map(|m| format!(": {}", crate::terminal_text::escape(m)))
            .unwrap_or_default();
        let hint = match status.as_u16() {
            401 => " (is GITHUB_TOKEN set from secrets.GITHUB_TOKEN?)",
            403 | 404 => {
                " (the workflow needs `permissions: pull-requests: write`; a pull request from a fork gets a read-only token)"
            }
            _ => "",
        };
        Err(RestError(format!(
            "cannot {what}: GitHub answered {status}{message}{hint}"
        )))
    }
}

/// The `rel="next"` URL of a `Link` header, when it is on the API's own origin (the token is
/// sent to no other host).
fn next_page(link: Option<&HeaderValue>, base: &url::Url) -> Option<url::Url> {
    let link = link?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let url = url::Url::parse(target).ok()?;
        (is_next && url.origin() == base.origin()).then_some(url)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_is_followed_only_on_the_apis_own_origin() {
        let base = url::Url::parse("https://api.github.com/").unwrap();
        let link = HeaderValue::from_static(
            "<https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=3>; rel=\"next\", <https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=9>; rel=\"last\"",
        );
        assert_eq!(
            next_page(Some(&link), &base).unwrap().as_str(),
            "https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=3"
        );
        let last_only = HeaderValue::from_static("<https://api.github.com/x?page=1>; rel=\"prev\"");
        assert_eq!(next_page(Some(&last_only), &base), None);
        let elsewhere = HeaderValue::from_static("<https://evil.example/x?page=2>; rel=\"next\"");
        assert_eq!(next_page(Some(&elsewhere), &base), None);
        assert_eq!(next_page(None, &base), None);
    }
}

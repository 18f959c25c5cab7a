//! Access at the HTTP edge: every response carries `Content-Security-Policy: frame-ancestors`;
//! every request but `/healthz` must name this server in its `Host` (DNS rebinding: see
//! [`crate::access::KnownHosts`]); when tokens are required, every page and API request must
//! present one (static files and `/healthz` aside), and what it asks for must lie inside the
//! token's scope.
//!
//! A token arrives as `Authorization: Bearer <token>`, as the `token` query parameter of a
//! signed link, or as the `inferscope_token` cookie a signed link sets for the rest of the
//! session on this site; an admin token only in the header. It is never logged, never written
//! into a page, never echoed in an error.

use std::collections::HashMap;

use app::url::{FilterParams, parse_filter};
use app::wire::Filter;
use axum::extract::{Request, State};
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, HOST, SET_COOKIE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::info;

use crate::access::{Claims, Refusal};

use super::AppState;

/// The cookie a signed link leaves for the rest of the visit (same site only).
pub const TOKEN_COOKIE: &str = "inferscope_token";

/// The claims of the token a request presented (in the request's extensions).
#[derive(Clone, Debug)]
pub struct Grant(pub Claims);

/// Whether a path is served to anyone: static files (no data in them) and liveness.
fn is_public(path: &str) -> bool {
    path == "/healthz"
        || path == "/favicon.svg"
        || path.starts_with("/pkg/")
        || path.starts_with("/vendor/")
}

/// The pages (rendered by Leptos), as opposed to the API.
fn is_page(path: &str) -> bool {
    matches!(path, "/" | "/targets" | "/families" | "/whatif")
}

/// Query parameters, percent-decoded (later repeats win).
pub fn query_params(query: Option<&str>) -> HashMap<String, String> {
    query
        .map(|query| {
            url_decode_pairs(query)
                .into_iter()
                .collect::<HashMap<String, String>>()
        })
        .unwrap_or_default()
}

fn url_decode_pairs(query: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://x/?{query}"))
        .map(|url| {
            url.query_pairs()
                .map(|(key, value)| (key.into_owned(), value.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// The filter named by a page's or an API call's query parameters.
pub fn filter_of(params: &HashMap<String, String>) -> Result<Filter, app::url::UnknownRange> {
    let get = |key: &str| params.get(key).map(String::as_str);
    parse_filter(&FilterParams::read(get))
}

/// Where a request's token came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Header,
    Url,
    Cookie,
}

/// The token a request presents, and where it came from.
fn presented(headers: &HeaderMap, params: &HashMap<String, String>) -> Option<(String, Source)> {
    if let Some(bearer) = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    {
        return Some((bearer.trim().to_owned(), Source::Header));
    }
    if let Some(token) = params.get("token").filter(|token| !token.is_empty()) {
        return Some((token.clone(), Source::Url));
    }
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == TOKEN_COOKIE)
        .map(|(_, token)| (token.to_owned(), Source::Cookie))
}

/// The authority a request names: `Host`, or (HTTP/2) the URI's authority.
pub fn requested_host(request: &Request) -> Option<String> {
    request
        .headers()
        .get(HOST)
        .map(|host| String::from_utf8_lossy(host.as_bytes()).into_owned())
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()))
}

/// Unix seconds now.
pub fn now_s() -> i64 {
    crate::scrape::now_ms().div_euclid(1000)
}

/// Families no adapter knows are not panels: a token limited to panels cannot list or read them.
pub fn families_out_of_scope() -> Refusal {
    Refusal::OutOfScope(
        "this token shows only some panels; other metrics are outside its scope".into(),
    )
}

/// Refuses raw families to a token limited to panels.
pub fn permit_families(grant: Option<&Grant>) -> Result<(), Refusal> {
    match grant {
        Some(Grant(claims)) if !claims.scope.panels.is_empty() => Err(families_out_of_scope()),
        _ => Ok(()),
    }
}

/// Checks a scope against a request for data: `Ok` when no token or an unscoped one.
pub fn permit(grant: Option<&Grant>, filter: &Filter) -> Result<(), Refusal> {
    grant.map_or(Ok(()), |grant| grant.0.scope.permits(filter))
}

/// The middleware (see the module documentation).
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = admit(&state, request, next).await;
    response
        .headers_mut()
        .insert(CONTENT_SECURITY_POLICY, state.frame_ancestors.clone());
    response
}

async fn admit(state: &AppState, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    // Liveness probes often address the pod or service by a name of the cluster's; it holds no
    // data. A request without any authority is not a browser's (HTTP/1.1 requires `Host`).
    if path != "/healthz"
        && let Some(host) = requested_host(&request)
        && !state.access.hosts.admits(&host)
    {
        // Bounded by characters: the header may hold any bytes (a byte cut could split one).
        let shown: String = host.chars().take(253).collect();
        return refused(&path, &Refusal::UnknownHost(shown));
    }
    // Without a secret and without the requirement there is nothing more to check.
    if !state.access.required && state.access.signer.is_none() {
        return next.run(request).await;
    }
    let mut remember: Option<(String, i64)> = None;
    if !is_public(&path) {
        let params = query_params(request.uri().query());
        let token = presented(request.headers(), &params);
        let checked = state
            .access
            .check(token.as_ref().map(|(token, _)| token.as_str()), now_s());
        match checked {
            Ok(Some(claims))
                if claims.admin
                    && token
                        .as_ref()
                        .is_some_and(|(_, source)| *source != Source::Header) =>
            {
                return refused_themed(
                    &path,
                    &Refusal::AdminOutsideHeader,
                    params.get("theme").map(String::as_str),
                );
            }
            Ok(Some(claims)) => {
                if is_page(&path) {
                    let scoped = claims.scope.is_limited();
                    let in_scope = match path.as_str() {
                        "/targets" if scoped => Err(Refusal::OutOfScope(
                            "this token is scoped to part of the fleet; the targets page lists every target".into(),
                        )),
                        "/targets" => Ok(()),
                        "/families" if !claims.scope.panels.is_empty() => {
                            Err(families_out_of_scope())
                        }
                        "/whatif" if !claims.scope.panels.is_empty() => Err(Refusal::OutOfScope(
                            "this token shows only some panels; a what-if replay reads several"
                                .into(),
                        )),
                        _ => match filter_of(&params) {
                            Ok(filter) => claims.scope.permits(&filter),
                            // The page reports a bad parameter itself.
                            Err(_) => Ok(()),
                        },
                    };
                    if let Err(refusal) = in_scope {
                        return refused_themed(
                            &path,
                            &refusal,
                            params.get("theme").map(String::as_str),
                        );
                    }
                    // A link's token is remembered for the visit (admin tokens never come
                    // from a URL).
                    if token
                        .as_ref()
                        .is_some_and(|(_, source)| *source == Source::Url)
                    {
                        remember = token.map(|(token, _)| (token, claims.expires_s));
                    }
                }
                request.extensions_mut().insert(Grant(claims));
            }
            Ok(None) => {}
            Err(refusal) => {
                return refused_themed(&path, &refusal, params.get("theme").map(String::as_str));
            }
        }
    }
    let secure = request
        .headers()
        .get("x-forwarded-proto")
        .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"))
        || request.uri().scheme_str() == Some("https");
    let mut response = next.run(request).await;
    if let Some((token, expires_s)) = remember {
        let max_age = (expires_s - now_s()).max(0);
        // `Secure` when the page was reached over TLS (a browser drops Secure cookies set over
        // plain HTTP on a remote host, which would break the visit).
        let secure = if secure { "; Secure" } else { "" };
        let cookie = format!(
            "{TOKEN_COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    response
}

/// A refusal: JSON for the API, a small page for a browser. One log line, without the token.
pub fn refused(path: &str, refusal: &Refusal) -> Response {
    refused_themed(path, refusal, None)
}

/// [`refused`], with the page in the theme the URL asked for (`theme=light|dark`).
fn refused_themed(path: &str, refusal: &Refusal, theme: Option<&str>) -> Response {
    let status = StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::FORBIDDEN);
    info!(path, status = status.as_u16(), reason = %refusal, "request refused");
    if path.starts_with("/api/") {
        return (
            status,
            axum::Json(serde_json::json!({ "error": refusal.to_string() })),
        )
            .into_response();
    }
    let reason = html_escape(&refusal.to_string());
    let scheme = match theme {
        Some("light") => "light",
        Some("dark") => "dark",
        _ => "light dark",
    };
    let title = match status {
        StatusCode::UNAUTHORIZED => "This link cannot be opened",
        StatusCode::MISDIRECTED_REQUEST => "This server does not answer to that name",
        _ => "This link does not show that",
    };
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"color-scheme\" content=\"{scheme}\"><title>inferscope: {title}</title>\
<style>body{{font:15px/1.5 system-ui,sans-serif;margin:0;display:grid;place-items:center;min-height:100vh}}\
main{{max-width:34rem;padding:1.5rem}}h1{{font-size:1.15rem;margin:0 0 .5rem}}\
p{{margin:0;opacity:.85}}</style></head><body><main class=\"refused\" data-status=\"{}\">\
<h1>{title}</h1><p class=\"reason\">{reason}</p></main></body></html>",
        status.as_u16()
    );
    (
        status,
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        page,
    )
        .into_response()
}

fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

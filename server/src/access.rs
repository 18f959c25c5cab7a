//! Who may read what: signed tokens (bearer tokens and embed links share one format), the origins
//! allowed to frame the page or open live connections, and refusals with plain reasons.
//!
//! A token is `v1.<claims>.<signature>`: the claims are compact JSON in unpadded base64url, the
//! signature is HMAC-SHA256 over `v1.<claims>` with the server's secret. Claims name a scope
//! (environment, deployment, panels — each absent means "any"), an expiry, and whether the
//! holder may mint further links. Tokens are read-only: nothing in inferscope writes.
//!
//! Nothing here logs a token or the secret; [`Signer`]'s `Debug` prints neither.

use app::url::panel_keys;
use app::wire::{Filter, PanelId};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use thiserror::Error;

/// The version prefix every token starts with.
pub const TOKEN_PREFIX: &str = "v1.";
/// Longest token accepted, bytes (a scope naming every panel is far below this).
pub const MAX_TOKEN_BYTES: usize = 2048;
/// Shortest secret accepted, bytes.
pub const MIN_SECRET_BYTES: usize = 32;
/// Every key a token's claims may hold (`Scope`'s and `Claims`' serde names).
const CLAIM_KEYS: [&str; 5] = ["e", "d", "p", "x", "a"];

/// What a token allows. Each field absent means "any".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// Only this environment.
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Only this deployment.
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    /// Only these panels (sorted).
    #[serde(rename = "p", default, skip_serializing_if = "Vec::is_empty")]
    pub panels: Vec<PanelId>,
}

impl Scope {
    /// Whether the scope limits anything.
    pub fn is_limited(&self) -> bool {
        self.environment.is_some() || self.deployment.is_some() || !self.panels.is_empty()
    }

    /// Whether `filter` stays inside the scope. A scoped field must be named exactly by the
    /// filter ("all deployments" is outside a one-deployment scope); scoped panels must be
    /// named, and only those.
    pub fn permits(&self, filter: &Filter) -> Result<(), Refusal> {
        let same = |scoped: &Option<String>, asked: &Option<String>, what: &str| match scoped {
            None => Ok(()),
            Some(scoped) if asked.as_deref() == Some(scoped.as_str()) => Ok(()),
            Some(scoped) => Err(Refusal::OutOfScope(format!(
                "this token is for {what} {scoped:?}; the request asks for {}",
                asked
                    .as_ref()
                    .map_or_else(|| format!("every {what}"), |asked| format!("{asked:?}"))
            ))),
        };
        same(&self.environment, &filter.environment, "environment")?;
        same(&self.deployment, &filter.deployment, "deployment")?;
        if !self.panels.is_empty() {
            let outside: Vec<PanelId> = filter
                .panels
                .iter()
                .copied()
                .filter(|panel| !self.panels.contains(panel))
                .collect();
            if filter.panels.is_empty() || !outside.is_empty() {
                return Err(Refusal::OutOfScope(format!(
                    "this token shows only the panels {}; the request asks for {}",
                    panel_keys(&self.panels),
                    if filter.panels.is_empty() {
                        "every panel".to_owned()
                    } else {
                        panel_keys(&outside)
                    }
                )));
            }
        }
        Ok(())
    }
}

/// The signed content of a token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// What the holder may read.
    #[serde(flatten)]
    pub scope: Scope,
    /// Expiry, Unix seconds.
    #[serde(rename = "x")]
    pub expires_s: i64,
    /// Whether the holder may mint links (`POST /api/v1/links`).
    #[serde(rename = "a", default, skip_serializing_if = "std::ops::Not::not")]
    pub admin: bool,
}

/// Why a request gets no data. Each maps to one HTTP status and says what to do.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum Refusal {
    /// No token where one is required.
    #[error(
        "this server requires a token: send `Authorization: Bearer <token>` or open a signed link"
    )]
    Missing,
    /// Not a token of this server's format.
    #[error("the token is malformed")]
    Malformed,
    /// The signature does not match (another server's secret, or an edited token).
    #[error("the token's signature is not valid")]
    BadSignature,
    /// The token expired.
    #[error("the token expired at {0} (UTC); ask for a new link")]
    Expired(String),
    /// The request asks for more than the token allows.
    #[error("{0}")]
    OutOfScope(String),
    /// Minting needs an admin token.
    #[error("minting links needs an admin token (`inferscope link --admin`)")]
    NotAdmin,
    /// A browser page on an origin that is not allowed opened a live connection.
    #[error("origin {0} may not open live connections here (see access.frame_ancestors)")]
    Origin(String),
    /// Minting was asked of a server without a secret.
    #[error("no access.secret is configured, so this server cannot sign links")]
    NoSecret,
    /// An admin token arrived in a URL or a cookie.
    #[error(
        "an admin token is accepted only in the `Authorization: Bearer` header, never in a URL or a cookie (URLs end up in history, logs and Referer headers)"
    )]
    AdminOutsideHeader,
    /// The request names a host this server is not known by (DNS rebinding, or a missing
    /// `access.hosts` entry).
    #[error(
        "this server is not known as {0:?}: add the name to access.hosts (requests for other names are refused, against DNS rebinding)"
    )]
    UnknownHost(String),
    /// A signed token carries claims this version does not read.
    #[error("the token carries claims this server does not know ({0}); mint a new one here")]
    UnknownClaims(String),
    /// The token for this scope would be longer than any server accepts.
    #[error(
        "the scope is too long to sign: its token would be {0} bytes, over the {MAX_TOKEN_BYTES} accepted"
    )]
    TooLong(usize),
}

impl Refusal {
    /// The HTTP status: 401 for who-are-you problems, 403 for you-may-not, 409 for no secret,
    /// 400 for a scope too long to sign, 421 for a name this server does not answer to.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Missing
            | Refusal::Malformed
            | Refusal::BadSignature
            | Refusal::Expired(_)
            | Refusal::AdminOutsideHeader
            | Refusal::UnknownClaims(_) => 401,
            Refusal::OutOfScope(_) | Refusal::NotAdmin | Refusal::Origin(_) => 403,
            Refusal::NoSecret => 409,
            Refusal::TooLong(_) => 400,
            // Misdirected Request: the server does not answer for that authority.
            Refusal::UnknownHost(_) => 421,
        }
    }
}

/// Signs and checks tokens with the server's secret.
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer { key: <hidden> }")
    }
}

/// A secret too short to sign with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("the secret must be at least {MIN_SECRET_BYTES} bytes long")]
pub struct ShortSecret;

impl Signer {
    /// A signer for `secret` (at least [`MIN_SECRET_BYTES`] bytes).
    pub fn new(secret: &str) -> Result<Signer, ShortSecret> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(ShortSecret);
        }
        Ok(Signer {
            key: secret.as_bytes().to_vec(),
        })
    }

    fn mac(&self) -> Hmac<Sha256> {
        #[allow(clippy::expect_used)] // HMAC takes keys of any length: this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes keys of any length")
    }

    /// The token for `claims`.
    pub fn mint(&self, claims: &Claims) -> String {
        let json = serde_json::to_vec(claims).unwrap_or_default();
        let mut token = String::with_capacity(TOKEN_PREFIX.len() + json.len() * 2 + 48);
        token.push_str(TOKEN_PREFIX);
        URL_SAFE_NO_PAD.encode_string(json, &mut token);
        let mut mac = self.mac();
        mac.update(token.as_bytes());
        let signature = mac.finalize().into_bytes();
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        token
    }

    /// The claims of a valid, unexpired token (`now_s`: Unix seconds). The signature is
    /// compared in constant time before the claims are read.
    pub fn verify(&self, token: &str, now_s: i64) -> Result<Claims, Refusal> {
        if token.len() > MAX_TOKEN_BYTES || !token.starts_with(TOKEN_PREFIX) {
            return Err(Refusal::Malformed);
        }
        let (signed, signature) = token.rsplit_once('.').ok_or(Refusal::Malformed)?;
        if signed.len() <= TOKEN_PREFIX.len() {
            return Err(Refusal::Malformed);
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| Refusal::Malformed)?;
        let mut mac = self.mac();
        mac.update(signed.as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| Refusal::BadSignature)?;
        let json = URL_SAFE_NO_PAD
            .decode(&signed[TOKEN_PREFIX.len()..])
            .map_err(|_| Refusal::Malformed)?;
        // `Claims` flattens its scope, which serde's deny_unknown_fields does not support:
        // look at the keys first. A claim this version does not read could be a restriction
        // it would silently drop.
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&json).map_err(|_| Refusal::Malformed)?;
        let unknown: Vec<&str> = object
            .keys()
            .map(String::as_str)
            .filter(|key| !CLAIM_KEYS.contains(key))
            .collect();
        if !unknown.is_empty() {
            // Bounded by characters: a byte cut could split one.
            let names: String = unknown.join(", ").chars().take(120).collect();
            return Err(Refusal::UnknownClaims(names));
        }
        let claims: Claims = serde_json::from_value(serde_json::Value::Object(object))
            .map_err(|_| Refusal::Malformed)?;
        if claims.expires_s <= now_s {
            return Err(Refusal::Expired(utc(claims.expires_s)));
        }
        Ok(claims)
    }
}

/// `2026-11-28 15:04:05` for Unix seconds (UTC), for messages.
pub fn utc(unix_s: i64) -> String {
    let (year, month, day) = app::format::civil_date(unix_s.div_euclid(86_400));
    let seconds = unix_s.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60
    )
}

/// Parses a duration such as `90s`, `15m`, `12h`, `7d` (or plain seconds) into seconds.
pub fn parse_ttl(text: &str) -> Option<i64> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last()? {
        (at, 's') => (&text[..at], 1),
        (at, 'm') => (&text[..at], 60),
        (at, 'h') => (&text[..at], 3600),
        (at, 'd') => (&text[..at], 86_400),
        _ => (text, 1),
    };
    number
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .and_then(|n| n.checked_mul(unit))
}

/// An origin as browsers send it (`scheme://host[:port]`), lower-cased, without a trailing
/// slash; `None` for anything else.
pub fn normalise_origin(text: &str) -> Option<String> {
    let url = reqwest::Url::parse(text.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return None;
    }
    // Only plain host names and IP literals: nothing that could end a CSP source expression.
    let host = url.host_str()?;
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-.[]:".contains(&b))
    {
        return None;
    }
    let origin = url.origin().ascii_serialization();
    (origin != "null").then_some(origin)
}

/// The names a request's `Host` may give this server: any IP address (a browser that typed
/// one reaches that address, not a name an attacker controls), `localhost` and `*.localhost`,
/// this machine's hostname, and the names configured in `access.hosts` (exact, or
/// `*.example.com` for its subdomains; `*` for any). Everything else is what DNS rebinding
/// looks like: a page on an attacker's name that now resolves to this server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KnownHosts {
    any: bool,
    names: Vec<String>,
    /// Suffixes with their leading dot (`.example.com`).
    suffixes: Vec<String>,
    machine: Option<String>,
}

impl KnownHosts {
    /// From `access.hosts`; `Err((index, reason))` for an entry that is not a host name.
    pub fn new(
        configured: &[String],
        machine: Option<String>,
    ) -> Result<KnownHosts, (usize, String)> {
        let mut hosts = KnownHosts {
            machine: machine.map(|name| name.trim_end_matches('.').to_ascii_lowercase()),
            ..KnownHosts::default()
        };
        for (index, entry) in configured.iter().enumerate() {
            let entry = entry.trim().to_ascii_lowercase();
            if entry == "*" {
                hosts.any = true;
                continue;
            }
            let (wildcard, name) = match entry.strip_prefix("*.") {
                Some(rest) => (true, rest),
                None => (false, entry.as_str()),
            };
            // A fully qualified name's root dot, once.
            let name = name.strip_suffix('.').unwrap_or(name);
            let valid = !name.is_empty()
                && name.len() <= 253
                && name.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if !valid {
                return Err((
                    index,
                    "must be a host name (`dash.example.com`), `*.example.com` or `*`; no scheme, port or path".into(),
                ));
            }
            if wildcard {
                hosts.suffixes.push(format!(".{name}"));
            } else {
                hosts.names.push(name.to_owned());
            }
        }
        Ok(hosts)
    }

    /// Whether a `Host` header (`name[:port]`, `[v6]:port`) names this server.
    pub fn admits(&self, host: &str) -> bool {
        if self.any {
            return true;
        }
        let Ok(authority) = host.trim().parse::<axum::http::uri::Authority>() else {
            return false;
        };
        if authority.as_str().contains('@') {
            return false;
        }
        let name = authority.host().trim_end_matches('.').to_ascii_lowercase();
        let bare = name.trim_start_matches('[').trim_end_matches(']');
        if bare.parse::<std::net::IpAddr>().is_ok() {
            return true;
        }
        name == "localhost"
            || name.ends_with(".localhost")
            || self.machine.as_deref() == Some(name.as_str())
            || self.configured(&name)
    }

    /// Whether `name` (no port) is one the operator configured.
    pub fn configured(&self, name: &str) -> bool {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.any
            || self.names.contains(&name)
            || self
                .suffixes
                .iter()
                .any(|suffix| name.ends_with(suffix.as_str()))
    }
}

/// This machine's hostname (Linux: `/proc/sys/kernel/hostname`), lower-cased.
pub fn machine_hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
}

/// Who may frame the page and open live connections, and whether tokens are required.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Tokens required for every page and API request (static files and `/healthz` aside).
    pub required: bool,
    /// Signs and checks tokens; absent when no secret is configured.
    pub signer: Option<Signer>,
    /// Origins besides the server's own that may frame the page (normalised).
    pub frame_ancestors: Vec<String>,
    /// Longest lifetime of a minted link, seconds.
    pub max_ttl_s: i64,
    /// The names requests may address this server by.
    pub hosts: KnownHosts,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            required: false,
            signer: None,
            frame_ancestors: Vec::new(),
            hosts: KnownHosts::default(),
            max_ttl_s: 30 * 86_400,
        }
    }
}

impl Policy {
    /// The `Content-Security-Policy` value every page carries.
    pub fn content_security_policy(&self) -> String {
        let mut value = String::from("frame-ancestors 'self'");
        for origin in &self.frame_ancestors {
            value.push(' ');
            value.push_str(origin);
        }
        value
    }

    /// Whether a browser page on `origin` may open a live connection to a server reached as
    /// `host` (the request's `Host` header, already checked against [`KnownHosts`]): its own
    /// pages (the origin of that host), pages on a name in `access.hosts` (a reverse proxy
    /// that rewrites `Host` keeps its public name in `Origin`), and pages on an allowed parent
    /// origin. An IP address or `localhost` is never enough by itself: a page on another
    /// port or address is another site.
    pub fn origin_allowed(&self, origin: &str, host: Option<&str>) -> bool {
        let Some(origin) = normalise_origin(origin) else {
            return false;
        };
        // The server's own origin, whichever scheme a proxy in front of it speaks (default
        // ports normalised away on both sides).
        let own = host.is_some_and(|host| {
            self.hosts.admits(host)
                && ["http", "https"].iter().any(|scheme| {
                    normalise_origin(&format!("{scheme}://{host}")).as_deref()
                        == Some(origin.as_str())
                })
        });
        let named = reqwest::Url::parse(&origin)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .is_some_and(|name| self.hosts.configured(&name));
        own || named || self.frame_ancestors.contains(&origin)
    }

    /// The claims of a presented token (`None`: no token presented).
    pub fn check(&self, token: Option<&str>, now_s: i64) -> Result<Option<Claims>, Refusal> {
        match (token, &self.signer) {
            (None, _) if !self.required => Ok(None),
            (None, _) => Err(Refusal::Missing),
            (Some(token), Some(signer)) => signer.verify(token, now_s).map(Some),
            // Tokens are not in use here: a presented one cannot be checked, and is not needed.
            (Some(_), None) => Ok(None),
        }
    }

    /// Mints a read-only link token for `scope`, valid `ttl_s` seconds from `now_s`, capped at
    /// `max_ttl_s`.
    pub fn mint(
        &self,
        scope: Scope,
        ttl_s: i64,
        now_s: i64,
        admin: bool,
    ) -> Result<(String, i64), Refusal> {
        let signer = self.signer.as_ref().ok_or(Refusal::NoSecret)?;
        let expires_s = now_s.saturating_add(ttl_s.min(self.max_ttl_s).max(1));
        let claims = Claims {
            scope,
            expires_s,
            admin,
        };
        let token = signer.mint(&claims);
        // Only tokens that will verify: a scope naming a very long deployment would otherwise
        // hand out a link that every request refuses.
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Refusal::TooLong(token.len()));
        }
        Ok((token, expires_s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a test secret that is long enough to sign";

    fn signer() -> Signer {
        Signer::new(SECRET).expect("long enough")
    }

    fn chat_scope() -> Scope {
        Scope {
            environment: Some("production".into()),
            deployment: Some("chat".into()),
            panels: vec![PanelId::InferenceVolume, PanelId::Replicas],
        }
    }

    #[test]
    fn tokens_round_trip_and_refuse_tampering_and_expiry() {
        let claims = Claims {
            scope: chat_scope(),
            expires_s: 2_000,
            admin: false,
        };
        let token = signer().mint(&claims);
        assert!(token.starts_with(TOKEN_PREFIX));
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        );
        assert_eq!(signer().verify(&token, 1_000), Ok(claims.clone()));
        assert_eq!(
            signer().verify(&token, 2_000),
            Err(Refusal::Expired("1970-01-01 00:33:20".into()))
        );
        let other = Signer::new("another secret, also long enough to sign").expect("long");
        assert_eq!(other.verify(&token, 1_000), Err(Refusal::BadSignature));
        // Claims edited (a wider scope) under the old signature.
        let (_, signature) = token.rsplit_once('.').expect("dot");
        let wider = Claims {
            scope: Scope::default(),
            ..claims
        };
        let forged_claims = signer().mint(&wider);
        let (forged_signed, _) = forged_claims.rsplit_once('.').expect("dot");
        assert_eq!(
            signer().verify(&format!("{forged_signed}.{signature}"), 1_000),
            Err(Refusal::BadSignature)
        );
        for garbage in [
            "",
            "v1.",
            "v1..",
            "v2.abc.def",
            "v1.abc",
            "v1.!!!.@@@",
            "Bearer x",
        ] {
            assert!(
                matches!(
                    signer().verify(garbage, 1_000),
                    Err(Refusal::Malformed | Refusal::BadSignature)
                ),
                "{garbage:?}"
            );
        }
        assert_eq!(
            signer().verify(&"v1.".repeat(1000), 0),
            Err(Refusal::Malformed)
        );
        assert_eq!(Signer::new("short").map(|_| ()), Err(ShortSecret));
        assert!(!format!("{:?}", signer()).contains("secret"));
    }

    #[test]
    fn scopes_admit_exactly_what_they_name() {
        let scope = chat_scope();
        let inside = Filter {
            environment: Some("production".into()),
            deployment: Some("chat".into()),
            panels: vec![PanelId::Replicas],
            ..Filter::default()
        };
        assert_eq!(scope.permits(&inside), Ok(()));
        let other_deployment = Filter {
            deployment: Some("embed".into()),
            ..inside.clone()
        };
        assert_eq!(
            scope.permits(&other_deployment),
            Err(Refusal::OutOfScope(
                "this token is for deployment \"chat\"; the request asks for \"embed\"".into()
            ))
        );
        let every_deployment = Filter {
            deployment: None,
            ..inside.clone()
        };
        assert!(matches!(
            scope.permits(&every_deployment),
            Err(Refusal::OutOfScope(reason)) if reason.ends_with("asks for every deployment")
        ));
        let more_panels = Filter {
            panels: vec![PanelId::Replicas, PanelId::Cpu],
            ..inside.clone()
        };
        assert_eq!(
            scope.permits(&more_panels),
            Err(Refusal::OutOfScope(
                "this token shows only the panels inference_volume,replicas; the request asks for cpu"
                    .into()
            ))
        );
        let all_panels = Filter {
            panels: Vec::new(),
            ..inside
        };
        assert!(scope.permits(&all_panels).is_err());
        assert_eq!(Scope::default().permits(&Filter::default()), Ok(()));
        assert!(!Scope::default().is_limited() && scope.is_limited());
    }

    #[test]
    fn policy_requires_tokens_only_when_asked_and_checks_origins() {
        let open = Policy::default();
        assert_eq!(open.check(None, 0), Ok(None));
        let closed = Policy {
            required: true,
            signer: Some(signer()),
            frame_ancestors: vec!["http://127.0.0.1:4000".into()],
            ..Policy::default()
        };
        assert_eq!(closed.check(None, 0), Err(Refusal::Missing));
        let (token, expires) = closed
            .mint(Scope::default(), 10 * 86_400 * 365, 100, false)
            .expect("signer");
        assert_eq!(expires, 100 + 30 * 86_400, "capped at max_ttl_s");
        assert!(matches!(closed.check(Some(&token), 200), Ok(Some(_))));
        assert_eq!(
            open.mint(Scope::default(), 60, 0, false),
            Err(Refusal::NoSecret)
        );
        assert_eq!(
            closed.content_security_policy(),
            "frame-ancestors 'self' http://127.0.0.1:4000"
        );
        assert!(closed.origin_allowed("http://127.0.0.1:3000", Some("127.0.0.1:3000")));
        assert!(closed.origin_allowed("http://127.0.0.1:4000", Some("127.0.0.1:3000")));
        assert!(!closed.origin_allowed("http://127.0.0.1:4001", Some("127.0.0.1:3000")));
        assert!(!closed.origin_allowed("null", Some("127.0.0.1:3000")));
        assert!(!closed.origin_allowed("http://evil.example", None));
        assert_eq!(
            normalise_origin("HTTPS://Console.Example.com/"),
            Some("https://console.example.com".into())
        );
        assert_eq!(normalise_origin("https://console.example.com/path"), None);
        assert_eq!(normalise_origin("https://a;sandbox"), None);
        assert_eq!(normalise_origin("https://a*b.example"), None);
        assert_eq!(
            normalise_origin("http://[::1]:3000"),
            Some("http://[::1]:3000".into())
        );
        // Default ports: the origin drops them, the Host header may carry them.
        assert!(closed.origin_allowed("https://10.0.0.1", Some("10.0.0.1:443")));
        assert!(closed.origin_allowed("http://10.0.0.1", Some("10.0.0.1")));
        // A Host this server is not known by never makes its own origin allowed (DNS
        // rebinding: the page's origin and Host are the attacker's name).
        assert!(!closed.origin_allowed("http://h.example", Some("h.example")));
        assert_eq!(normalise_origin("file:///x"), None);
    }

    #[test]
    fn ttls_and_times_read_as_people_write_them() {
        assert_eq!(parse_ttl("90s"), Some(90));
        assert_eq!(parse_ttl("15m"), Some(900));
        assert_eq!(parse_ttl("12h"), Some(43_200));
        assert_eq!(parse_ttl("7d"), Some(604_800));
        assert_eq!(parse_ttl("600"), Some(600));
        for bad in ["", "0", "-5m", "1w", "m", "99999999999999999999d"] {
            assert_eq!(parse_ttl(bad), None, "{bad:?}");
        }
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(1_795_881_600), "2026-11-28 16:00:00");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00");
    }

    #[test]
    fn known_hosts_are_addresses_localhost_the_machine_and_the_configured_names() {
        let hosts = KnownHosts::new(
            &["Dash.Example.com.".into(), "*.internal.example".into()],
            Some("build-7".into()),
        )
        .expect("valid");
        for admitted in [
            "127.0.0.1:3000",
            "10.1.2.3",
            "[::1]:3000",
            "[fe80::1]",
            "localhost:3000",
            "app.localhost",
            "build-7:3000",
            "dash.example.com",
            "DASH.EXAMPLE.COM.:443",
            "a.internal.example:8080",
        ] {
            assert!(hosts.admits(admitted), "{admitted}");
        }
        for refused in [
            "attacker.example:3000",
            "dash.example.com.attacker.example",
            "internal.example",
            "xinternal.example",
            "localhost.attacker.example",
            "build-7.attacker.example",
            "user@127.0.0.1",
            "",
            "bad host",
        ] {
            assert!(!hosts.admits(refused), "{refused}");
        }
        // Origins on a configured name, not on an address or localhost alone.
        assert!(hosts.configured("dash.example.com"));
        assert!(!hosts.configured("localhost"));
        assert!(!hosts.configured("127.0.0.1"));
        let any = KnownHosts::new(&["*".into()], None).expect("valid");
        assert!(any.admits("whatever.example:1"));
        for bad in [
            "http://dash.example.com",
            "dash.example.com:443",
            "a/b",
            "*.",
            "a..b",
        ] {
            assert_eq!(
                KnownHosts::new(&["ok.example".into(), bad.into()], None).map(|_| ()),
                Err((1, "must be a host name (`dash.example.com`), `*.example.com` or `*`; no scheme, port or path".into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_token_with_claims_this_version_does_not_know_is_refused() {
        // Signed with the right secret, by hand: a future "read-only until" claim this
        // version would otherwise drop, widening what the holder gets.
        let json = br#"{"e":"production","x":5000,"u":1}"#;
        let mut token = String::from(TOKEN_PREFIX);
        URL_SAFE_NO_PAD.encode_string(json, &mut token);
        let mut mac = signer().mac();
        mac.update(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(mac.finalize().into_bytes(), &mut token);
        assert_eq!(
            signer().verify(&token, 1_000),
            Err(Refusal::UnknownClaims("u".into()))
        );
    }

    #[test]
    fn a_scope_too_long_to_verify_is_not_minted() {
        let policy = Policy {
            signer: Some(signer()),
            ..Policy::default()
        };
        let scope = |length: usize| Scope {
            deployment: Some("d".repeat(length)),
            ..Scope::default()
        };
        // base64 of the claims: 4/3 of the JSON, which is the name plus about 20 bytes.
        let (token, _) = policy.mint(scope(1400), 60, 0, false).expect("fits");
        assert!(token.len() <= MAX_TOKEN_BYTES);
        assert!(signer().verify(&token, 1).is_ok());
        assert!(matches!(
            policy.mint(scope(1600), 60, 0, false),
            Err(Refusal::TooLong(length)) if length > MAX_TOKEN_BYTES
        ));
    }
}

//! Access over real sockets, with tokens required: every refusal path of the API, the pages and
//! the live WebSocket (no token, bad signature, expired, wrong scope, wrong origin, not admin,
//! an admin token outside the header, a `Host` this server is not known by), what a scoped
//! token does see, minting over the API, and the headers every page carries.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

mod common;

use std::time::Duration;

use app::wire::{
    ClientMessage, ErrorCode, Filter, PROTOCOL_VERSION, PanelId, ServerMessage, TimeRange,
};
use axum::Router;
use axum::routing::get;
use futures::{SinkExt, StreamExt};
use server::access::{Claims, Scope, Signer};
use server::config::{AccessMode, TargetConfig};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

const SECRET: &str = "the secret of this test server, long enough";
const PARENT: &str = "http://127.0.0.1:4000";

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// An exporter for one deployment's replica: a counter that grows.
async fn exporter() -> std::net::SocketAddr {
    let app = Router::new().route(
        "/metrics",
        get(|| async {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis();
            format!(
                "# TYPE inferscope_inference_requests_total counter\ninferscope_inference_requests_total{{code=\"200\"}} {}\n",
                now / 100
            )
        }),
    );
    common::serve(app).await
}

/// A server that requires tokens, scraping two deployments (`chat`, `embed`) in `production`.
async fn guarded_server() -> server::Server {
    let mut config = common::fast_config();
    config.access.mode = AccessMode::On;
    config.access.secret = SECRET.into();
    config.access.frame_ancestors = vec![PARENT.into()];
    for deployment in ["chat", "embed"] {
        config.targets.push(TargetConfig {
            url: format!("http://{}/metrics", exporter().await),
            environment: "production".into(),
            deployment: deployment.into(),
            replica: format!("{deployment}-0"),
            engine: None,
            pid: None,
            gpus: Vec::new(),
        });
    }
    common::start(config).await
}

fn now_s() -> i64 {
    server::web::access::now_s()
}

fn token(scope: Scope, expires_s: i64, admin: bool) -> String {
    Signer::new(SECRET).expect("secret").mint(&Claims {
        scope,
        expires_s,
        admin,
    })
}

fn chat_scope() -> Scope {
    Scope {
        environment: Some("production".into()),
        deployment: Some("chat".into()),
        panels: vec![PanelId::InferenceVolume, PanelId::ResponseTime],
    }
}

const CHAT_QUERY: &str =
    "environment=production&deployment=chat&panels=inference_volume,response_time";

/// GET with an optional bearer token: (status, body, headers).
async fn get_with(url: &str, bearer: Option<&str>) -> (u16, String, reqwest::header::HeaderMap) {
    let client = reqwest::Client::new();
    let mut request = client.get(url);
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, response.text().await.expect("body"), headers)
}

/// GET with a bearer token, as JSON (`None` on any failure: for polling).
async fn json_with(url: String, bearer: String) -> Option<serde_json::Value> {
    reqwest::Client::new()
        .get(url)
        .bearer_auth(bearer)
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()
}

fn error_of(body: &str) -> String {
    let json: serde_json::Value = serde_json::from_str(body).expect("a JSON error");
    json["error"].as_str().expect("error text").to_owned()
}

/// Opens the live socket with optional bearer token and Origin; the HTTP status on refusal.
async fn open(
    addr: std::net::SocketAddr,
    bearer: Option<&str>,
    origin: Option<&str>,
    query_token: Option<&str>,
) -> Result<Socket, (u16, String)> {
    let url = match query_token {
        Some(token) => format!("ws://{addr}/api/v1/live?token={token}"),
        None => format!("ws://{addr}/api/v1/live"),
    };
    let mut request = url.into_client_request().expect("request");
    if let Some(bearer) = bearer {
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {bearer}").parse().expect("header"),
        );
    }
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().expect("header"));
    }
    match connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(WsError::Http(response)) => {
            let body = response
                .body()
                .as_ref()
                .map(|body| String::from_utf8_lossy(body).into_owned())
                .unwrap_or_default();
            Err((response.status().as_u16(), body))
        }
        Err(other) => panic!("unexpected WebSocket error {other}"),
    }
}

async fn subscribe(socket: &mut Socket, filter: Filter) {
    let message = ClientMessage::Subscribe {
        protocol: PROTOCOL_VERSION,
        filter,
        resume: None,
    };
    socket
        .send(Message::text(serde_json::to_string(&message).unwrap()))
        .await
        .expect("send");
}

async fn next(socket: &mut Socket) -> Option<ServerMessage> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(20), socket.next())
            .await
            .expect("a message within 20 s")?;
        match frame.ok()? {
            Message::Text(text) => return Some(serde_json::from_str(&text).expect("message")),
            Message::Close(_) => return None,
            _ => continue,
        }
    }
}

fn chat_filter() -> Filter {
    Filter {
        environment: Some("production".into()),
        deployment: Some("chat".into()),
        range: TimeRange::Last5m,
        panels: vec![PanelId::InferenceVolume, PanelId::ResponseTime],
        ..Filter::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_path_names_its_reason_and_returns_no_data() {
    let server = guarded_server().await;
    let base = format!("http://{}", server.addr);
    let view = format!("{base}/api/v1/view?{CHAT_QUERY}");

    // No token: 401 on the API, the pages and the live socket; static files and liveness open.
    let (status, body, _) = get_with(&view, None).await;
    assert_eq!(status, 401);
    assert!(error_of(&body).contains("requires a token"), "{body}");
    let (status, body, headers) = get_with(&format!("{base}/?{CHAT_QUERY}"), None).await;
    assert_eq!(status, 401);
    assert!(body.contains("requires a token") && !body.contains("\"panels\""));
    assert_eq!(
        headers["content-security-policy"],
        format!("frame-ancestors 'self' {PARENT}")
    );
    assert_eq!(get_with(&format!("{base}/healthz"), None).await.0, 200);
    assert_eq!(
        open(server.addr, None, None, None).await.err().map(|e| e.0),
        Some(401)
    );
    for path in ["/api/v1/targets", "/api/v1/families", "/targets"] {
        assert_eq!(
            get_with(&format!("{base}{path}"), None).await.0,
            401,
            "{path}"
        );
    }

    // A bad signature (another server's secret) and garbage: 401.
    let foreign = Signer::new("another server's secret, also long enough")
        .unwrap()
        .mint(&Claims {
            scope: Scope::default(),
            expires_s: now_s() + 600,
            admin: false,
        });
    let (status, body, _) = get_with(&view, Some(&foreign)).await;
    assert_eq!(
        (status, error_of(&body)),
        (401, "the token's signature is not valid".into())
    );
    let (status, body, _) = get_with(&view, Some("not-a-token")).await;
    assert_eq!(
        (status, error_of(&body)),
        (401, "the token is malformed".into())
    );
    assert_eq!(
        open(server.addr, Some(&foreign), None, None)
            .await
            .err()
            .map(|e| e.0),
        Some(401)
    );

    // Expired: 401 with the time it expired, on the API, the page and the socket.
    let expired = token(chat_scope(), now_s() - 60, false);
    let (status, body, _) = get_with(&view, Some(&expired)).await;
    assert_eq!(status, 401);
    assert!(
        error_of(&body).starts_with("the token expired at "),
        "{body}"
    );
    let (status, body, _) = get_with(
        &format!("{base}/?embed=1&{CHAT_QUERY}&token={expired}"),
        None,
    )
    .await;
    assert_eq!(status, 401);
    assert!(body.contains("the token expired at"), "{body}");
    assert!(!body.contains(&expired), "the token is not echoed");
    let refused = open(server.addr, None, None, Some(&expired))
        .await
        .expect_err("refused");
    assert_eq!(refused.0, 401);
    assert!(refused.1.contains("expired"), "{}", refused.1);

    // Wrong scope: 403 naming what the token is for.
    let chat = token(chat_scope(), now_s() + 600, false);
    let other = view.replace("deployment=chat", "deployment=embed");
    let (status, body, _) = get_with(&other, Some(&chat)).await;
    assert_eq!(status, 403);
    assert_eq!(
        error_of(&body),
        "this token is for deployment \"chat\"; the request asks for \"embed\""
    );
    let all_panels = format!("{base}/api/v1/view?environment=production&deployment=chat");
    let (status, body, _) = get_with(&all_panels, Some(&chat)).await;
    assert_eq!(status, 403);
    assert!(error_of(&body).contains("asks for every panel"), "{body}");
    for path in [
        "/api/v1/targets".to_owned(),
        "/targets".to_owned(),
        // Families no adapter knows are not panels: outside a panel-limited scope.
        format!("/api/v1/families?{CHAT_QUERY}"),
        format!("/api/v1/family?name=x&{CHAT_QUERY}"),
        format!("/families?{CHAT_QUERY}"),
        // The diagnosis and the replay read panels beyond the token's.
        format!("/api/v1/insights?{CHAT_QUERY}"),
        format!("/api/v1/whatif?{CHAT_QUERY}"),
        format!("/whatif?{CHAT_QUERY}"),
    ] {
        assert_eq!(
            get_with(&format!("{base}{path}"), Some(&chat)).await.0,
            403,
            "{path}"
        );
    }
    let (status, body, _) = get_with(
        &format!(
            "{base}/?embed=1&{}&token={chat}",
            CHAT_QUERY.replace("chat", "embed")
        ),
        None,
    )
    .await;
    assert_eq!(status, 403);
    assert!(body.contains("this token is for deployment"), "{body}");
    assert!(!body.contains(&chat), "the token is not echoed");

    // The live socket: a subscription outside the scope is refused, the connection stays.
    let mut socket = open(server.addr, Some(&chat), None, None)
        .await
        .expect("upgrade");
    subscribe(
        &mut socket,
        Filter {
            deployment: Some("embed".into()),
            ..chat_filter()
        },
    )
    .await;
    match next(&mut socket).await {
        Some(ServerMessage::Error { code, message }) => {
            assert_eq!(code, ErrorCode::Forbidden);
            assert!(message.contains("\"embed\""), "{message}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }

    // Wrong origin: 403 before the upgrade; the server's own origin and the parent pass.
    let own = format!("http://{}", server.addr);
    let (status, body) = open(
        server.addr,
        Some(&chat),
        Some("http://evil.example:4000"),
        None,
    )
    .await
    .expect_err("refused");
    assert_eq!(status, 403);
    assert!(
        body.contains("http://evil.example:4000 may not open live connections"),
        "{body}"
    );
    assert!(
        open(server.addr, Some(&chat), Some(&own), None)
            .await
            .is_ok()
    );
    assert!(
        open(server.addr, Some(&chat), Some(PARENT), None)
            .await
            .is_ok()
    );

    // Minting: no token 401, a read token 403, an admin token 200.
    let client = reqwest::Client::new();
    let links = format!("{base}/api/v1/links");
    let request = serde_json::json!({"deployment": "chat", "environment": "production",
        "panels": ["inference_volume"], "ttl_s": 600});
    let response = client.post(&links).json(&request).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let response = client
        .post(&links)
        .bearer_auth(&chat)
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    assert!(error_of(&response.text().await.unwrap()).contains("admin token"));

    // What the Share dialog asks first: needs a token like any API call, then says whether the
    // server signs links, whether this grant is scoped, and the longest lifetime.
    let access = format!("{base}/api/v1/access");
    let (status, body, _) = get_with(&access, None).await;
    assert_eq!(status, 401, "{body}");
    let scoped = json_with(access.clone(), chat.clone())
        .await
        .expect("access");
    assert_eq!(
        scoped,
        serde_json::json!({"tokens_required": true, "signs_links": true, "scoped": true,
            "max_link_ttl_s": 30 * 86_400})
    );
    let fleet = token(Scope::default(), now_s() + 600, false);
    let open_grant = json_with(access, fleet).await.expect("access");
    assert_eq!(open_grant["scoped"], false);
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_token_sees_its_deployment_only_and_is_never_echoed() {
    let server = guarded_server().await;
    let base = format!("http://{}", server.addr);
    let admin = token(Scope::default(), now_s() + 600, true);

    // An admin mints a link over the API; the link opens the embedded page.
    let link: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/links"))
        .bearer_auth(&admin)
        .json(
            &serde_json::json!({"environment": "production", "deployment": "chat",
            "panels": ["response_time", "inference_volume"], "ttl_s": 600}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = link["path"].as_str().expect("path");
    let minted = link["token"].as_str().expect("token");
    assert_eq!(
        path,
        format!(
            "/?embed=1&{}&token={minted}",
            CHAT_QUERY
                .replace(',', "%2C")
                .replace("&panels", "&range=15m&panels")
        )
    );
    let (status, body, headers) = get_with(&format!("{base}{path}"), None).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains(minted), "the page does not echo the token");
    let cookie = headers["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    // An admin token in a URL is refused (and so never kept in a cookie).
    let (status, body, headers) = get_with(&format!("{base}/?token={admin}"), None).await;
    assert_eq!(status, 401);
    assert!(
        body.contains("only in the `Authorization: Bearer` header"),
        "{body}"
    );
    assert!(!headers.contains_key("set-cookie"));

    // The view holds the chosen panels only, and no other deployment's name.
    let view: serde_json::Value = json_with(
        format!("{base}/api/v1/view?{CHAT_QUERY}"),
        minted.to_owned(),
    )
    .await
    .expect("the view");
    let panels: Vec<&str> = view["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|panel| panel["id"].as_str().unwrap())
        .collect();
    assert_eq!(panels, ["inference_volume", "response_time"]);
    assert!(
        view.get("autoscaling").is_none(),
        "a panel-limited view carries no diagnosis"
    );
    let deployments = common::eventually(Duration::from_secs(20), "deployments listed", || {
        let view = json_with(
            format!("{base}/api/v1/view?{CHAT_QUERY}"),
            minted.to_owned(),
        );
        async move {
            let view = view.await?;
            let list = view["deployments"].as_array()?.clone();
            (!list.is_empty()).then_some(list)
        }
    })
    .await;
    assert_eq!(
        deployments,
        [serde_json::json!({"environment": "production", "deployment": "chat"})]
    );
    // The admin (unscoped) sees both, once both exporters have been scraped.
    common::eventually(Duration::from_secs(20), "both deployments listed", || {
        let full = json_with(format!("{base}/api/v1/view"), admin.clone());
        async move {
            let full = full.await?;
            (full["deployments"].as_array()?.len() == 2).then_some(())
        }
    })
    .await;
    // … and the scoped token still only its own.
    let scoped: serde_json::Value = json_with(
        format!("{base}/api/v1/view?{CHAT_QUERY}"),
        minted.to_owned(),
    )
    .await
    .expect("the view");
    assert_eq!(scoped["deployments"].as_array().unwrap().len(), 1);

    // A token for the deployment (every panel) gets its diagnosis only, and none of another's.
    let deployment_only = token(
        Scope {
            panels: Vec::new(),
            ..chat_scope()
        },
        now_s() + 600,
        false,
    );
    let chat_view = format!("{base}/api/v1/view?environment=production&deployment=chat");
    let diagnosed: Vec<serde_json::Value> =
        common::eventually(Duration::from_secs(20), "the diagnosis", || {
            let view = json_with(chat_view.clone(), deployment_only.clone());
            async move {
                let list = view.await?["autoscaling"].as_array()?.clone();
                (!list.is_empty()).then_some(list)
            }
        })
        .await;
    assert!(
        diagnosed.iter().all(|d| d["deployment"] == "chat"),
        "{diagnosed:?}"
    );
    let (status, _, _) = get_with(
        &format!("{base}/api/v1/insights?environment=production&deployment=embed"),
        Some(&deployment_only),
    )
    .await;
    assert_eq!(status, 403);
    let (status, body, _) = get_with(
        &format!("{base}/whatif?environment=production&deployment=chat&range=5m"),
        Some(&deployment_only),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Over the socket, with the token in the URL as the page sends it: the snapshot has the
    // scope's panels and deployment only, and data arrives.
    let mut socket = open(server.addr, None, Some(PARENT), Some(minted))
        .await
        .expect("upgrade");
    subscribe(&mut socket, chat_filter()).await;
    match next(&mut socket).await {
        Some(ServerMessage::Snapshot { view, .. }) => {
            assert_eq!(view.filter, chat_filter());
            assert_eq!(view.panels.len(), 2);
            assert!(view.deployments.iter().all(|d| d.deployment == "chat"));
        }
        other => panic!("expected a snapshot, got {other:?}"),
    }
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_connection_ends_when_its_token_expires() {
    let server = guarded_server().await;
    let short = token(chat_scope(), now_s() + 2, false);
    let mut socket = open(server.addr, Some(&short), None, None)
        .await
        .expect("upgrade");
    subscribe(&mut socket, chat_filter()).await;
    let mut refusal = None;
    while let Some(message) = next(&mut socket).await {
        if let ServerMessage::Error { code, message } = message {
            refusal = Some((code, message));
        }
    }
    let (code, message) = refusal.expect("an error before the close");
    assert_eq!(code, ErrorCode::Unauthorized);
    assert!(message.starts_with("the token expired at"), "{message}");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn tokens_are_required_off_loopback_and_need_a_secret() {
    let mut config = common::fast_config();
    let error = config
        .access
        .policy("0.0.0.0:3000".parse().unwrap())
        .expect_err("no secret off loopback");
    assert!(
        error
            .to_string()
            .contains("listens on 0.0.0.0:3000, not on loopback"),
        "{error}"
    );
    let policy = config
        .access
        .policy("127.0.0.1:3000".parse().unwrap())
        .expect("loopback needs none");
    assert!(!policy.required);
    config.access.mode = AccessMode::On;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let error = server::Server::start(config.clone(), common::leptos_options(), listener)
        .await
        .expect_err("on without a secret");
    assert!(error.to_string().contains("access.secret"), "{error}");
    config.access.secret = "short".into();
    assert!(config.validate().is_err());
    config.access.secret = SECRET.into();
    config.access.frame_ancestors = vec!["https://console.example.com/path".into()];
    let error = config.validate().expect_err("a path is not an origin");
    assert!(
        error.to_string().contains("access.frame_ancestors[0]"),
        "{error}"
    );
}

/// GET with a `Host` header of the caller's choosing (DNS rebinding: the browser sends the
/// attacker's name): (status, body).
async fn get_as_host(addr: std::net::SocketAddr, path: &str, host: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(format!("http://{addr}{path}"))
        .header("host", host)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_the_server_is_not_known_by_is_refused_on_the_api_the_page_and_the_socket() {
    // No tokens at all (a loopback demo): only the Host check stands between a rebinding page
    // and the data.
    let mut config = common::fast_config();
    config.access.mode = AccessMode::Off;
    config.access.hosts = vec!["dash.example.com".into(), "*.internal.example".into()];
    let server = common::start(config).await;
    let addr = server.addr;
    let port = addr.port();
    for host in [
        format!("attacker.example:{port}"),
        format!("dash.example.com.attacker.example:{port}"),
        format!("internal.example.evil:{port}"),
        "user@127.0.0.1".to_owned(),
    ] {
        let (status, body) = get_as_host(addr, "/api/v1/view", &host).await;
        assert_eq!(status, 421, "{host}: {body}");
        assert!(error_of(&body).contains("access.hosts"), "{body}");
        assert!(!body.contains("\"panels\""));
        let (status, page) = get_as_host(addr, "/", &host).await;
        assert_eq!(status, 421, "{host}");
        assert!(page.contains("does not answer to that name") && !page.contains("<script"));
    }
    // Names it is known by: IP addresses, localhost, the configured names and subdomains.
    for host in [
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        format!("localhost:{port}"),
        format!("DASH.example.com.:{port}"),
        format!("a.b.internal.example:{port}"),
    ] {
        let (status, body) = get_as_host(addr, "/api/v1/view", &host).await;
        assert_eq!(status, 200, "{host}: {body}");
    }
    // A long Host of multi-byte characters: refused with its name cut on a character, and
    // the server goes on serving.
    let response = reqwest::Client::new()
        .get(format!("http://{addr}/api/v1/view"))
        .header(
            "host",
            reqwest::header::HeaderValue::from_bytes("ü".repeat(300).as_bytes()).unwrap(),
        )
        .send()
        .await
        .expect("an answer, not a dropped connection");
    assert_eq!(response.status().as_u16(), 421);
    assert_eq!(
        get_as_host(addr, "/api/v1/view", &format!("127.0.0.1:{port}"))
            .await
            .0,
        200
    );
    // Liveness answers any name (probes address pods by cluster names).
    assert_eq!(
        get_as_host(addr, "/healthz", "pod.cluster.local").await.0,
        200
    );

    // The live socket: refused before the upgrade under a rebinding name, even with an Origin
    // that matches that name (a rebinding page's own origin).
    let mut request = format!("ws://{addr}/api/v1/live")
        .into_client_request()
        .expect("request");
    request
        .headers_mut()
        .insert("host", format!("attacker.example:{port}").parse().unwrap());
    request.headers_mut().insert(
        "origin",
        format!("http://attacker.example:{port}").parse().unwrap(),
    );
    match connect_async(request).await {
        Err(WsError::Http(response)) => assert_eq!(response.status().as_u16(), 421),
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    }
    // A page on another port of localhost is another site; a page on a configured name (a
    // proxy that rewrites Host keeps the public name in Origin) is this one.
    assert_eq!(
        open(addr, None, Some("http://localhost:9999"), None)
            .await
            .err()
            .map(|e| e.0),
        Some(403)
    );
    assert_eq!(
        open(
            addr,
            None,
            Some(&format!("http://127.0.0.1:{}", port + 1)),
            None
        )
        .await
        .err()
        .map(|e| e.0),
        Some(403)
    );
    let mut socket = open(addr, None, Some("https://dash.example.com"), None)
        .await
        .expect("a configured name's page may connect");
    subscribe(&mut socket, chat_filter()).await;
    assert!(matches!(
        next(&mut socket).await,
        Some(ServerMessage::Snapshot { .. })
    ));
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_on_loopback_requires_tokens_and_admin_tokens_only_in_the_header() {
    // `auto` (the default) on loopback, with a secret: as if behind a reverse proxy, every
    // visitor looks local, so the secret's tokens are required.
    let mut config = common::fast_config();
    assert_eq!(config.access.mode, AccessMode::Auto);
    config.access.secret = SECRET.into();
    let server = common::start(config).await;
    let base = format!("http://{}", server.addr);
    let (status, body, _) = get_with(&format!("{base}/api/v1/view"), None).await;
    assert_eq!(status, 401, "{body}");
    assert!(error_of(&body).contains("requires a token"));
    assert_eq!(
        open(server.addr, None, None, None).await.err().map(|e| e.0),
        Some(401)
    );

    // An admin token: good in the header; refused in a URL (API, page, socket) and in a
    // cookie, with the reason.
    let admin = token(Scope::default(), now_s() + 600, true);
    assert_eq!(
        get_with(&format!("{base}/api/v1/view"), Some(&admin))
            .await
            .0,
        200
    );
    let (status, body, _) = get_with(&format!("{base}/api/v1/view?token={admin}"), None).await;
    assert_eq!(status, 401);
    assert!(error_of(&body).contains("only in the `Authorization: Bearer` header"));
    assert!(!body.contains(&admin), "the token is not echoed");
    assert_eq!(
        open(server.addr, None, None, Some(&admin))
            .await
            .err()
            .map(|e| e.0),
        Some(401)
    );
    let response = reqwest::Client::new()
        .get(format!("{base}/api/v1/targets"))
        .header("cookie", format!("inferscope_token={admin}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    // A read token in a URL still opens the page (a signed link).
    let reader = token(Scope::default(), now_s() + 600, false);
    assert_eq!(
        get_with(&format!("{base}/api/v1/view?token={reader}"), None)
            .await
            .0,
        200
    );
    // A scope too long to fit a token is refused at minting, not handed out to fail later.
    let response = reqwest::Client::new()
        .post(format!("{base}/api/v1/links"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({ "environment": "production", "deployment": "d".repeat(3000), "ttl_s": 600 }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(error_of(&body).contains("too long to sign"), "{body}");
    server.stop().await.expect("stops");
}

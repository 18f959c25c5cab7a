//! The `inferscope` binary: read the configuration, start the server, stop on SIGINT/SIGTERM.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use server::Server;
use server::config::{Cli, Command, Config, LinkArgs};
use tracing::info;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    if let Some(Command::DemoReplica(args)) = &cli.command {
        return demo_replica(args);
    }
    let config = match Config::load(&cli) {
        Ok(config) => config,
        Err(error) => {
            tracing::error!("{error}");
            eprintln!("inferscope: {error}");
            return ExitCode::from(2);
        }
    };
    if let Some(Command::Link(args)) = &cli.command {
        return match link(&config, args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("inferscope link: {error:#}");
                ExitCode::from(2)
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("inferscope: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("inferscope: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `inferscope demo-replica`: one replica of the demo fleet, in this process.
fn demo_replica(args: &server::config::DemoReplicaArgs) -> ExitCode {
    let profile = match serde_json::from_str(&args.profile) {
        Ok(profile) => profile,
        Err(error) => {
            eprintln!("inferscope demo-replica: --profile is not a model profile: {error}");
            return ExitCode::from(2);
        }
    };
    match server::demo::replica::serve_process(
        &args.name,
        profile,
        &args.models,
        std::time::Duration::from_millis(args.cold_start_ms),
        args.seed,
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("inferscope demo-replica: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    // Demo replicas run as processes of this very binary, so the host reader's /proc readings
    // are theirs alone.
    if let Ok(program) = std::env::current_exe() {
        server::demo::replica::run_replicas_as_processes(program);
    }
    // Each viewer and each scrape holds a file descriptor; the default soft limit (often
    // 1024) would refuse connections long before memory runs out. Raised to the hard limit.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => info!(open_files = limit, "open-file limit"),
        Err(error) => tracing::warn!(%error, "could not raise the open-file limit"),
    }
    let leptos = leptos::config::get_configuration(None).context("reading the Leptos settings")?;
    let options = leptos.leptos_options;
    let addr = options.site_addr;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (set LEPTOS_SITE_ADDR to change it)"))?;
    let server = Server::start(config, options, listener).await?;
    info!("dashboard at http://{}", server.addr);
    shutdown_signal().await?;
    info!("shutting down");
    server.stop().await.context("stopping the server")?;
    Ok(())
}

/// `inferscope link`: prints one line on stdout — the link, or with `--admin` the token — and
/// what it allows on stderr.
#[allow(clippy::print_stdout)] // stdout is this subcommand's output.
fn link(config: &Config, args: &LinkArgs) -> anyhow::Result<()> {
    let ttl = server::access::parse_ttl(&args.ttl)
        .with_context(|| format!("--ttl {:?}: use e.g. 90s, 15m, 12h or 7d", args.ttl))?;
    let scope = server::web::api::scope_of(
        args.environment.clone(),
        args.deployment.clone(),
        args.panels.as_deref().unwrap_or(""),
    )
    .map_err(|error| anyhow::anyhow!("--panels: {error}"))?;
    if args.admin && scope.is_limited() {
        anyhow::bail!("an admin token is unscoped: drop --environment, --deployment and --panels");
    }
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let policy = config.access.policy(loopback)?;
    let now = server::web::access::now_s();
    let (token, expires_s) = policy.mint(scope.clone(), ttl, now, args.admin)?;
    let expires = server::access::utc(expires_s);
    if args.admin {
        println!("{token}");
        eprintln!("admin token (may mint links with POST /api/v1/links), expires {expires} UTC");
    } else {
        let base = args.base_url.trim_end_matches('/');
        println!(
            "{base}{}",
            server::web::api::link_path(&scope, &token, args.page)
        );
        eprintln!(
            "read-only link for environment {}, deployment {}, panels {}; expires {expires} UTC",
            scope.environment.as_deref().unwrap_or("(any)"),
            scope.deployment.as_deref().unwrap_or("(any)"),
            if scope.panels.is_empty() {
                "(all)".to_owned()
            } else {
                app::url::panel_keys(&scope.panels)
            },
        );
    }
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("waiting for Ctrl-C")?,
        _ = terminate.recv() => {}
    }
    Ok(())
}

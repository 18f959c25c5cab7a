//! An invalid configuration is refused at start, with a message naming the field and what is
//! allowed. (Misbehaving exporters are in `faults.rs`.)
#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

use std::process::Command;

fn run_binary(args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_inferscope"))
        .args(args)
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("LEPTOS_OUTPUT_NAME", "inferscope")
        .output()
        .expect("run the binary");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn invalid_config_values_are_refused_with_the_field_named() {
    let dir = std::env::temp_dir().join(format!("inferscope-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write config");
        path.to_string_lossy().into_owned()
    };

    let timeout = write(
        "timeout.toml",
        "scrape_interval_ms = 1000\nscrape_timeout_ms = 3000\n",
    );
    let (code, stderr) = run_binary(&["--config", &timeout]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("invalid config value scrape_timeout_ms = 3000: must be less than scrape_interval_ms (1000)"),
        "{stderr}"
    );

    let url = write(
        "url.toml",
        "[[targets]]\nurl = \"not a url\"\nenvironment = \"p\"\ndeployment = \"d\"\n",
    );
    let (code, stderr) = run_binary(&["--config", &url]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("targets[0].url"), "{stderr}");

    let hosts = write(
        "hosts.toml",
        "[access]\nhosts = [\"dash.example.com\", \"https://dash.example.com:443\"]\n",
    );
    let (code, stderr) = run_binary(&["--config", &hosts]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("access.hosts[1] = \"https://dash.example.com:443\": must be a host name"),
        "{stderr}"
    );

    let typo = write("typo.toml", "scrape_intervall_ms = 1000\n");
    let (code, stderr) = run_binary(&["--config", &typo]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("unknown field `scrape_intervall_ms`"),
        "{stderr}"
    );

    let (code, stderr) = run_binary(&["--config", "/nonexistent/inferscope.toml"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("cannot read config file /nonexistent/inferscope.toml"),
        "{stderr}"
    );

    let (code, stderr) = run_binary(&["--scrape-interval-ms", "50"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("scrape_interval_ms = 50: must be between 100 and 3600000"),
        "{stderr}"
    );
    let _cleanup = std::fs::remove_dir_all(&dir);
}

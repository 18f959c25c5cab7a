//! The served binary raises its open-file limit to the hard limit at start (each viewer and
//! each scrape holds a descriptor) and says so: read from outside, in `/proc/<pid>/limits`.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// (soft, hard) "Max open files" of a process; `u64::MAX` for "unlimited".
fn open_files(pid: u32) -> Option<(u64, u64)> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    let mut numbers = line["Max open files".len()..]
        .split_whitespace()
        .map(|field| {
            if field == "unlimited" {
                Some(u64::MAX)
            } else {
                field.parse().ok()
            }
        });
    Some((numbers.next()??, numbers.next()??))
}

#[test]
fn the_server_raises_its_open_file_limit_to_the_hard_limit_and_logs_it() {
    let config =
        std::env::temp_dir().join(format!("inferscope-nofile-{}.toml", std::process::id()));
    std::fs::write(&config, "demo = \"off\"\n").expect("write config");
    // Start it with a soft limit below the hard one, as login shells do (ulimit -n 256);
    // `prlimit` is util-linux, on every Debian.
    let mut child = Command::new("prlimit")
        .arg("--nofile=256:")
        .arg(env!("CARGO_BIN_EXE_inferscope"))
        .arg("--config")
        .arg(&config)
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("LEPTOS_OUTPUT_NAME", "inferscope")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("prlimit runs the server");
    let pid = child.id();
    let hard = open_files(pid).expect("its limits").1;
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let started = Instant::now();
    let mut logged = None;
    for line in stdout.lines() {
        let line = line.expect("a log line");
        if line.contains("open-file limit") {
            logged = Some(line);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no open-file line"
        );
    }
    let (soft, now_hard) = open_files(pid).expect("its limits");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&config);
    assert_eq!(now_hard, hard);
    assert_eq!(
        soft, hard,
        "the soft limit is raised to the hard one ({hard})"
    );
    assert!(soft > 256);
    let logged = logged.expect("the server logs its open-file limit");
    assert!(logged.contains(&format!("open_files={soft}")), "{logged}");
}

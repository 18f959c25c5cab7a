//! Demo replicas as processes of the real `inferscope` binary: each is a process of its own,
//! its CPU and memory are that process's readings from `/proc` (the host reader's code), work
//! shows as CPU, it is found by its port, and stopping it (or losing the server) ends it.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

use std::path::PathBuf;
use std::time::Duration;

use server::demo::replica::{LlmBehaviour, ModelProfile, Replica, run_replicas_as_processes};
use server::scrape::host::Proc;

const PROFILE: ModelProfile = ModelProfile {
    max_context_tokens: 4096,
    overhead: Duration::from_millis(2),
    prefill_per_token: Duration::from_micros(10),
    decode_per_token: Duration::from_micros(200),
    bytes_per_token: 4,
    first_chunk_bytes: 64,
    failure_rate: 0.0,
    contention_per_request: 0.0,
    cpu_per_token: Duration::from_micros(400),
    host_weights_bytes: 48 * 1024 * 1024,
    host_bytes_per_token: 1024,
    cpu_limit_cores: 1.5,
    memory_limit_bytes: 256 * 1024 * 1024,
    gpu_weights_bytes: 1024,
    gpu_kv_bytes_per_token: 1024,
    kv_capacity_tokens: 10_000,
    gpu_full_batch: 4.0,
    llm: LlmBehaviour::NONE,
};

async fn page(client: &reqwest::Client, url: &str) -> String {
    client.get(url).send().await.unwrap().text().await.unwrap()
}

fn gauge(page: &str, name: &str) -> f64 {
    page.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("{name} missing from the page"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_is_a_process_read_from_proc() {
    run_replicas_as_processes(PathBuf::from(env!("CARGO_BIN_EXE_inferscope")));
    let replica = Replica::start("proc-0".into(), PROFILE, Vec::new(), Duration::ZERO, 7)
        .await
        .expect("the replica process starts");
    let pid = replica.pid.expect("a process of its own");
    assert_ne!(pid, std::process::id());
    let proc = Proc::default();
    assert_eq!(
        proc.listener(replica.addr.port()),
        Some(pid),
        "found by its port"
    );

    let client = reqwest::Client::new();
    let metrics = format!("http://{}/metrics", replica.addr);
    let before = page(&client, &metrics).await;
    let cpu_before = gauge(&before, "inferscope_container_cpu_usage_seconds_total");
    // Its simulated container's limits, as the profile states them.
    assert_eq!(gauge(&before, "inferscope_container_cpu_limit_cores"), 1.5);
    assert_eq!(
        gauge(&before, "inferscope_container_memory_limit_bytes"),
        268_435_456.0
    );
    // Work: 20 requests of 500 output tokens at 400 µs of CPU per token = 4 s of CPU.
    let mut requests = Vec::new();
    for _ in 0..20 {
        let client = client.clone();
        let url = format!("http://{}/v1/predict", replica.addr);
        requests.push(tokio::spawn(async move {
            client
                .post(url)
                .header("content-type", "application/json")
                .body(r#"{"prompt_tokens": 10, "max_tokens": 500}"#)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
        }));
    }
    for request in requests {
        request.await.unwrap();
    }
    let after = page(&client, &metrics).await;
    let cpu = gauge(&after, "inferscope_container_cpu_usage_seconds_total") - cpu_before;
    assert!(
        cpu > 2.0,
        "about 4 s of CPU went into the requests, read {cpu:.2} s"
    );
    // The replica's memory is its process's working set: at least the 48 MiB of weights, and
    // what /proc says of that process.
    let memory = gauge(&after, "inferscope_container_memory_working_set_bytes");
    assert!(memory >= 48.0 * 1048576.0, "{:.0} MiB", memory / 1048576.0);
    // Its own process tree, as the replica reads itself (in a container too, where the
    // container's cgroup would hold the whole fleet).
    let outside = proc.process_tree(pid).working_set_bytes;
    assert!(
        (memory - outside).abs() < 16.0 * 1048576.0,
        "the replica says {memory}, /proc says {outside}"
    );

    replica.stop().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(proc.process(pid).is_err(), "stopped means gone");
}

//! The NVML source through its real dynamic-loading path, without a GPU: each test builds the
//! stand-in `libnvidia-ml` in `tests/fake_nvml/` with the system C compiler, writes the values it
//! wants into the stand-in's state file, and loads the library by path — as the server loads the
//! driver's. Covers init failure, a GPU that is lost or vanishes, and attribution by pid, down to
//! the panels of a running server.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use app::wire::{Filter, PanelId, SeriesId, TimeRange, View};
use axum::Router;
use axum::routing::get;
use server::config::{ReaderMode, TargetConfig};
use server::scrape::nvml::{GpuReader, NO_DRIVER};

/// Removes the stand-in's directory when a test ends.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _already_gone = std::fs::remove_dir_all(&self.0);
    }
}

/// Builds the stand-in into a fresh directory; returns (cleanup, library, state file).
fn stand_in(name: &str) -> (Cleanup, PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("inferscope-nvml-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state");
    let library = dir.join("libnvidia-ml.so.1");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake_nvml/fake_nvml.c");
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let output = std::process::Command::new(&compiler)
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&library)
        .arg(format!("-DSTATE_FILE=\"{}\"", state.display()))
        .arg(&source)
        .output()
        .unwrap_or_else(|error| panic!("running the C compiler {compiler:?}: {error}"));
    assert!(
        output.status.success(),
        "building the stand-in failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (Cleanup(dir), library, state)
}

fn write_state(state: &Path, text: &str) {
    // Write then rename, so the library never reads half a file.
    let partial = state.with_extension("partial");
    std::fs::write(&partial, text).unwrap();
    std::fs::rename(&partial, state).unwrap();
}

#[test]
fn the_reader_loads_the_library_by_path_and_reads_what_it_reports() {
    let (_cleanup, library, state) = stand_in("reader");
    write_state(
        &state,
        "init 0\n\
         gpu GPU-aaaa 55 2000000000 8000000000 150000 61 1410 0 4242:1500000000,77:1000\n\
         gpu GPU-bbbb 20 1000000000 8000000000 90000 50 1200 0 -\n",
    );
    let reader = GpuReader::open(library.to_str().unwrap()).expect("the stand-in loads");
    let host = reader.read().expect("reads");
    assert!(host.failed.is_empty(), "{:?}", host.failed);
    assert_eq!(host.gpus.len(), 2);
    let first = &host.gpus[0];
    assert_eq!((first.index, first.uuid.as_str()), (0, "GPU-aaaa"));
    assert_eq!(first.utilization, 0.55);
    assert_eq!(first.memory_used_bytes, 2e9);
    assert_eq!(first.memory_total_bytes, 8e9);
    assert_eq!(first.power_watts, Some(150.0));
    assert_eq!(first.temperature_celsius, Some(61.0));
    assert_eq!(first.sm_clock_hertz, Some(1.41e9));
    assert_eq!(
        first.processes,
        vec![(4242, Some(1.5e9)), (77, Some(1000.0))]
    );
    assert!(host.gpus[1].processes.is_empty());

    // GPU 1 is lost mid-run: it fails alone, GPU 0 goes on.
    write_state(
        &state,
        "init 0\n\
         gpu GPU-aaaa 60 2000000000 8000000000 150000 61 1410 0 -\n\
         gpu GPU-bbbb 20 1000000000 8000000000 90000 50 1200 15 -\n",
    );
    let host = reader.read().expect("reads");
    assert_eq!(host.gpus.len(), 1);
    assert_eq!(host.gpus[0].utilization, 0.6);
    assert_eq!(host.failed.len(), 1);
    assert_eq!(host.failed[0].0, 1);
    assert!(
        host.failed[0].1.starts_with("GPU 1: handle:"),
        "{}",
        host.failed[0].1
    );

    // It vanishes from the device list altogether.
    write_state(
        &state,
        "init 0\ngpu GPU-aaaa 60 2000000000 8000000000 150000 61 1410 0 -\n",
    );
    let host = reader.read().expect("reads");
    assert_eq!((host.gpus.len(), host.failed.len()), (1, 0));
}

#[test]
fn init_failure_and_a_missing_library_say_there_is_no_driver() {
    let (_cleanup, library, state) = stand_in("init");
    write_state(&state, "init 9\n");
    let error = GpuReader::open(library.to_str().unwrap()).expect_err("init fails");
    assert!(error.starts_with(NO_DRIVER), "{error}");
    assert!(error.contains("libnvidia-ml.so.1"), "{error}");
    let error = GpuReader::open("/no/such/dir/libnvidia-ml.so.1").expect_err("no library");
    assert!(error.starts_with(NO_DRIVER), "{error}");
}

fn gpu_series(view: &View, panel: PanelId) -> Vec<(String, Option<f64>)> {
    view.panel(panel)
        .map(|panel| {
            panel
                .series
                .iter()
                .filter_map(|series| match &series.id {
                    SeriesId::Gpu(gpu) => {
                        Some((gpu.clone(), series.points.last().and_then(|point| point.1)))
                    }
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replicas_gpus_are_found_by_its_pid_and_a_lost_gpu_goes_stale_alone() {
    let (_cleanup, library, state) = stand_in("server");
    let me = std::process::id();
    // GPU 0 runs this process (the replica): attributed by pid. GPU 1 is named in config.
    // GPU 2 runs someone else's process: not this replica's.
    write_state(
        &state,
        &format!(
            "init 0\n\
             gpu GPU-aaaa 55 2000000000 8000000000 150000 61 1410 0 {me}:1500000000\n\
             gpu GPU-bbbb 20 1000000000 8000000000 90000 50 1200 0 -\n\
             gpu GPU-cccc 90 7000000000 8000000000 300000 80 1800 0 999999:7000000000\n"
        ),
    );
    // The replica: an exporter served by this process on a loopback port.
    let app = Router::new().route(
        "/metrics",
        get(|| async { "inferscope_inference_requests_total{code=\"200\"} 1\n" }),
    );
    let addr = common::serve(app).await;
    let mut config = common::fast_config();
    config.host.nvml = ReaderMode::Auto;
    config.host.processes = ReaderMode::Auto;
    config.host.nvml_library = library.to_str().unwrap().to_owned();
    config.targets.push(TargetConfig {
        url: format!("http://{addr}/metrics"),
        environment: "test".into(),
        deployment: "gpu-model".into(),
        replica: "gpu-model-0".into(),
        engine: None,
        // No pid: found by the URL's port.
        pid: None,
        gpus: vec!["1".into()],
    });
    let server = common::start(config).await;
    let filter = Filter {
        environment: Some("test".into()),
        deployment: Some("gpu-model".into()),
        range: TimeRange::Last5m,
        ..Filter::default()
    };
    let view = |filter: Filter| {
        let store = server.store.clone();
        async move {
            server::query::view_from(
                &store,
                filter,
                server::scrape::now_ms(),
                server::query::QuerySettings {
                    scrape_interval_ms: 250,
                    raw_retention_ms: 3_900_000,
                    no_gpu_driver: false,
                },
            )
            .await
            .unwrap()
        }
    };
    let usage = common::eventually(Duration::from_secs(20), "GPU readings", || {
        let view = view(filter.clone());
        async move {
            let lines = gpu_series(&view.await, PanelId::GpuUsage);
            (lines.len() == 2 && lines.iter().all(|(_, v)| v.is_some())).then_some(lines)
        }
    })
    .await;
    assert_eq!(
        usage,
        [("0".to_owned(), Some(0.55)), ("1".to_owned(), Some(0.2))],
        "GPU 2 runs another process and is not this replica's"
    );
    let memory = gpu_series(&view(filter.clone()).await, PanelId::GpuMemory);
    assert!(memory.contains(&("0".to_owned(), Some(2e9))), "{memory:?}");
    // The host reader found the same process by its port: CPU and memory of this process.
    common::eventually(Duration::from_secs(20), "CPU and memory", || {
        let view = view(filter.clone());
        async move {
            let view = view.await;
            let has = |id| {
                view.panel(id).is_some_and(|panel| {
                    panel
                        .series
                        .iter()
                        .any(|s| s.points.iter().any(|p| p.1.is_some_and(|v| v > 0.0)))
                })
            };
            (has(PanelId::Memory) && has(PanelId::Cpu)).then_some(())
        }
    })
    .await;

    // GPU 1 is lost: its line goes stale, GPU 0 continues with new values.
    write_state(
        &state,
        &format!(
            "init 0\n\
             gpu GPU-aaaa 75 2000000000 8000000000 150000 61 1410 0 {me}:1500000000\n\
             gpu GPU-bbbb 20 1000000000 8000000000 90000 50 1200 15 -\n"
        ),
    );
    common::eventually(
        Duration::from_secs(20),
        "GPU 1 stale, GPU 0 at 75 %",
        || {
            let view = view(filter.clone());
            async move {
                let lines = gpu_series(&view.await, PanelId::GpuUsage);
                let gpu = |name: &str| lines.iter().find(|(g, _)| g == name).map(|(_, v)| *v);
                (gpu("0") == Some(Some(0.75)) && gpu("1").is_none_or(|v| v.is_none())).then_some(())
            }
        },
    )
    .await;
    let targets = server.store.read(server::query::targets).await.unwrap();
    let nvml = targets
        .iter()
        .find(|target| target.url.starts_with("nvml:"))
        .expect("the NVML reader is a target");
    assert!(nvml.up, "a lost GPU fails alone, not the reader: {nvml:?}");
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_driver_the_gpu_panels_say_so_and_nothing_else_changes() {
    let mut config = common::fast_config();
    config.host.nvml = ReaderMode::Auto;
    config.host.nvml_library = "/no/such/dir/libnvidia-ml.so.1".into();
    let server = common::start(config).await;
    let body: View = reqwest::get(format!("http://{}/api/v1/view", server.addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body.gpu_note.as_deref(), Some(NO_DRIVER));
    assert_eq!(body.panels.len(), PanelId::ALL.len());
    server.stop().await.expect("stops");
}

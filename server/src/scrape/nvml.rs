//! NVIDIA GPUs read through NVML: the driver's `libnvidia-ml` is loaded at run time (path
//! configurable), so a host without the driver runs the same binary and only the GPU panels say
//! what is missing. Per GPU: utilisation, memory used and total, and where the driver offers them
//! power, temperature, SM clock and the processes using it.
//!
//! [`NvmlScraper`] is a scrape loop's source like any exporter: for one replica it reads every
//! GPU, keeps those attributed to the replica (by index or UUID in config, or because the
//! replica's process tree runs on it), renders them as an exposition page in inferscope's own
//! names and ingests it. A GPU that fails to read is left off the page, so its series go stale
//! while the others continue; a failed NVML call as a whole fails the scrape.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::sync::Arc;

use nvml_wrapper::Nvml;
use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};
use nvml_wrapper::enums::device::UsedGpuMemory;

use crate::ingest::Ingestor;
use crate::store::ScrapeSuccess;

use super::host::{PidSource, Proc};
use super::{ScrapeError, ScrapeSettings, Scraper};

/// The driver library's usual name (found on the loader's path).
pub const DEFAULT_LIBRARY: &str = "libnvidia-ml.so.1";
/// Most GPUs read on one host.
pub const MAX_GPUS: u32 = 64;

/// What the GPU panels say when no driver could be loaded.
pub const NO_DRIVER: &str =
    "no NVIDIA driver found on this host; GPU readings can also come from a DCGM exporter";

/// One GPU, as read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GpuReading {
    /// Index on the host.
    pub index: u32,
    /// NVML's UUID (`GPU-…`).
    pub uuid: String,
    /// Product name.
    pub name: String,
    /// Share of time a kernel ran, 0–1.
    pub utilization: f64,
    /// Memory used, bytes.
    pub memory_used_bytes: f64,
    /// Memory in all, bytes.
    pub memory_total_bytes: f64,
    /// Power draw, watts (absent where the board does not report it).
    pub power_watts: Option<f64>,
    /// Die temperature, °C.
    pub temperature_celsius: Option<f64>,
    /// SM clock, hertz.
    pub sm_clock_hertz: Option<f64>,
    /// Processes with a compute context: (pid, bytes used, when known).
    pub processes: Vec<(u32, Option<f64>)>,
}

/// Every GPU of the host, or why it could not be read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostGpus {
    /// GPUs read.
    pub gpus: Vec<GpuReading>,
    /// GPUs that failed, with the driver's reason (their series go stale).
    pub failed: Vec<(u32, String)>,
}

/// The loaded driver library.
#[derive(Clone)]
pub struct GpuReader {
    nvml: Arc<Nvml>,
}

impl std::fmt::Debug for GpuReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GpuReader")
    }
}

impl GpuReader {
    /// Loads `library` (a path, or a name the dynamic loader finds) and initialises NVML.
    /// Blocking: call it off the async runtime.
    pub fn open(library: &str) -> Result<GpuReader, String> {
        let library = if library.is_empty() {
            DEFAULT_LIBRARY
        } else {
            library
        };
        Nvml::builder()
            .lib_path(OsStr::new(library))
            .init()
            .map(|nvml| GpuReader {
                nvml: Arc::new(nvml),
            })
            .map_err(|error| format!("{NO_DRIVER} ({library}: {error})"))
    }

    /// Reads every GPU. Blocking.
    pub fn read(&self) -> Result<HostGpus, String> {
        let count = self
            .nvml
            .device_count()
            .map_err(|error| format!("NVML could not count GPUs: {error}"))?;
        let mut host = HostGpus::default();
        for index in 0..count.min(MAX_GPUS) {
            match self.read_one(index) {
                Ok(gpu) => host.gpus.push(gpu),
                Err(error) => host.failed.push((index, error)),
            }
        }
        Ok(host)
    }

    fn read_one(&self, index: u32) -> Result<GpuReading, String> {
        let failed = |what: &str, error: nvml_wrapper::error::NvmlError| {
            format!("GPU {index}: {what}: {error}")
        };
        let device = self
            .nvml
            .device_by_index(index)
            .map_err(|e| failed("handle", e))?;
        let uuid = device.uuid().map_err(|e| failed("UUID", e))?;
        let utilization = device
            .utilization_rates()
            .map_err(|e| failed("utilization", e))?;
        let memory = device.memory_info().map_err(|e| failed("memory", e))?;
        // The rest is optional: boards and drivers differ in what they report.
        let processes = device
            .running_compute_processes()
            .map(|list| {
                list.into_iter()
                    .map(|process| {
                        let used = match process.used_gpu_memory {
                            UsedGpuMemory::Used(bytes) => Some(bytes as f64),
                            UsedGpuMemory::Unavailable => None,
                        };
                        (process.pid, used)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(GpuReading {
            index,
            name: device.name().unwrap_or_default(),
            uuid,
            utilization: f64::from(utilization.gpu.min(100)) / 100.0,
            memory_used_bytes: memory.used as f64,
            memory_total_bytes: memory.total as f64,
            power_watts: device.power_usage().ok().map(|mw| f64::from(mw) / 1000.0),
            temperature_celsius: device
                .temperature(TemperatureSensor::Gpu)
                .ok()
                .map(f64::from),
            sm_clock_hertz: device
                .clock_info(Clock::SM)
                .ok()
                .map(|mhz| f64::from(mhz) * 1e6),
            processes,
        })
    }
}

/// Which GPUs belong to a replica.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attribution {
    /// GPU indices (`"0"`) or UUIDs (`"GPU-…"`) named in config.
    pub gpus: Vec<String>,
    /// The replica's process, whose tree NVML may list on a GPU.
    pub pid: Option<PidSource>,
}

impl Attribution {
    /// Whether `gpu` is the replica's: named in config, or running one of `pids`.
    pub fn claims(&self, gpu: &GpuReading, pids: &HashSet<u32>) -> bool {
        self.gpus
            .iter()
            .any(|named| *named == gpu.uuid || named.parse::<u32>().ok() == Some(gpu.index))
            || gpu.processes.iter().any(|(pid, _)| pids.contains(pid))
    }
}

/// The exposition page for a replica's GPUs.
pub fn render(gpus: &[&GpuReading]) -> String {
    let mut page = String::with_capacity(256 + gpus.len() * 512);
    let mut family = |kind: &str, name: &str, lines: &mut dyn Iterator<Item = String>| {
        let _infallible = writeln!(page, "# TYPE {name} {kind}");
        for line in lines {
            let _infallible = writeln!(page, "{name}{line}");
        }
    };
    let each = |value: fn(&GpuReading) -> Option<f64>| {
        gpus.iter()
            .filter_map(move |gpu| value(gpu).map(|v| format!("{{gpu=\"{}\"}} {v}", gpu.index)))
    };
    family(
        "gauge",
        "inferscope_gpu_utilization_ratio",
        &mut each(|gpu| Some(gpu.utilization)),
    );
    family(
        "gauge",
        "inferscope_gpu_memory_used_bytes",
        &mut each(|gpu| Some(gpu.memory_used_bytes)),
    );
    family(
        "gauge",
        "inferscope_gpu_memory_total_bytes",
        &mut each(|gpu| Some(gpu.memory_total_bytes)),
    );
    family(
        "gauge",
        "inferscope_gpu_power_watts",
        &mut each(|gpu| gpu.power_watts),
    );
    family(
        "gauge",
        "inferscope_gpu_temperature_celsius",
        &mut each(|gpu| gpu.temperature_celsius),
    );
    family(
        "gauge",
        "inferscope_gpu_sm_clock_hertz",
        &mut each(|gpu| gpu.sm_clock_hertz),
    );
    let escape = |text: &str| text.replace('\\', "\\\\").replace('"', "\\\"");
    family(
        "gauge",
        "inferscope_gpu_info",
        &mut gpus.iter().map(|gpu| {
            format!(
                "{{gpu=\"{}\",uuid=\"{}\",name=\"{}\"}} 1",
                gpu.index,
                escape(&gpu.uuid),
                escape(&gpu.name)
            )
        }),
    );
    family(
        "gauge",
        "inferscope_gpu_process_memory_bytes",
        &mut gpus.iter().flat_map(|gpu| {
            gpu.processes.iter().filter_map(|(pid, used)| {
                used.map(|used| format!("{{gpu=\"{}\",pid=\"{pid}\"}} {used}", gpu.index))
            })
        }),
    );
    page
}

/// Reads a replica's GPUs on every scrape.
#[derive(Debug)]
pub struct NvmlScraper {
    reader: GpuReader,
    attribution: Attribution,
    proc: Proc,
    /// The replica's process found last time.
    pid: Option<u32>,
    settings: ScrapeSettings,
    ingestor: Ingestor,
}

impl NvmlScraper {
    /// A scraper for the GPUs `attribution` gives a replica.
    pub fn new(
        reader: GpuReader,
        attribution: Attribution,
        settings: ScrapeSettings,
    ) -> NvmlScraper {
        NvmlScraper {
            reader,
            attribution,
            proc: Proc::default(),
            pid: None,
            settings,
            ingestor: settings.ingestor(Some(vec![crate::ingest::adapter::Engine::Inferscope])),
        }
    }
}

impl Scraper for NvmlScraper {
    async fn scrape(&mut self, at_ms: i64) -> Result<ScrapeSuccess, ScrapeError> {
        let reader = self.reader.clone();
        let attribution = self.attribution.clone();
        let proc = self.proc.clone();
        let cached = self.pid.take();
        let (page, pid) = tokio::task::spawn_blocking(move || {
            let host = reader.read()?;
            // The replica's process tree, when it can be found (a replica named by GPU alone
            // needs none).
            let pid = attribution
                .pid
                .as_ref()
                .and_then(|source| source.resolve_from(&proc, cached).ok());
            let pids = pid.map(|pid| proc.tree(pid)).unwrap_or_default();
            let mine: Vec<&GpuReading> = host
                .gpus
                .iter()
                .filter(|gpu| attribution.claims(gpu, &pids))
                .collect();
            for (index, error) in &host.failed {
                tracing::debug!(gpu = index, %error, "a GPU could not be read");
            }
            Ok::<_, String>((render(&mine), pid))
        })
        .await
        .map_err(|error| ScrapeError::Source(format!("NVML reading task failed: {error}")))?
        .map_err(ScrapeError::Source)?;
        self.pid = pid;
        super::ingest_rendered(&mut self.ingestor, &page, &self.settings, at_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::IngestLimits;
    use crate::ingest::exposition::Format;

    fn gpu(index: u32, uuid: &str, pids: &[u32]) -> GpuReading {
        GpuReading {
            index,
            uuid: uuid.into(),
            name: "Test \"GPU\"".into(),
            utilization: 0.5,
            memory_used_bytes: 1e9,
            memory_total_bytes: 8e9,
            power_watts: Some(120.0),
            temperature_celsius: None,
            sm_clock_hertz: Some(1.41e9),
            processes: pids.iter().map(|pid| (*pid, Some(5e8))).collect(),
        }
    }

    #[test]
    fn gpus_are_attributed_by_index_uuid_or_process() {
        let by_config = Attribution {
            gpus: vec!["1".into(), "GPU-b".into()],
            pid: None,
        };
        let none = HashSet::new();
        assert!(by_config.claims(&gpu(1, "GPU-a", &[]), &none));
        assert!(by_config.claims(&gpu(0, "GPU-b", &[]), &none));
        assert!(!by_config.claims(&gpu(0, "GPU-c", &[]), &none));
        let by_process = Attribution::default();
        assert!(by_process.claims(&gpu(2, "GPU-d", &[7, 42]), &HashSet::from([42])));
        assert!(!by_process.claims(&gpu(2, "GPU-d", &[7]), &HashSet::from([42])));
    }

    #[test]
    fn pages_render_in_inferscope_names_and_ingest() {
        let first = gpu(0, "GPU-a", &[42]);
        let second = gpu(3, "GPU-b", &[]);
        let page = render(&[&first, &second]);
        assert!(page.contains("inferscope_gpu_utilization_ratio{gpu=\"3\"} 0.5\n"));
        assert!(page.contains("inferscope_gpu_power_watts{gpu=\"0\"} 120\n"));
        assert!(!page.contains("inferscope_gpu_temperature_celsius{"));
        assert!(page.contains("name=\"Test \\\"GPU\\\"\""));
        assert!(
            page.contains("inferscope_gpu_process_memory_bytes{gpu=\"0\",pid=\"42\"} 500000000\n")
        );
        let mut ingestor = Ingestor::for_engines(vec![crate::ingest::adapter::Engine::Inferscope]);
        let output = ingestor
            .ingest(
                &page,
                Format::Prometheus,
                IngestLimits {
                    sample_limit: 1000,
                    label_limit: 10,
                    label_value_length_limit: 100,
                },
                0,
            )
            .expect("the page parses");
        // Utilisation, used and total per GPU.
        assert_eq!(output.observations.len(), 6, "{:?}", output.observations);
    }

    #[test]
    fn a_missing_library_says_so_plainly() {
        let error = GpuReader::open("/nonexistent/libnvidia-ml.so.1").expect_err("no driver");
        assert!(error.starts_with(NO_DRIVER), "{error}");
    }
}

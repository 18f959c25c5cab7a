//! Host readings for replicas on this machine: CPU (cores used) and memory (working set) of a
//! replica's process and its descendants from `/proc`, or of its cgroup v2 when it runs in a
//! container, with the container's CPU and memory limits; host totals beside them. A [`HostScraper`] is a scrape loop's source like any
//! exporter: it renders what it read as an exposition page in inferscope's own names and ingests
//! it, so `up`, staleness and counter resets work as for HTTP targets.
//!
//! The process is named in config (`pid`) or found by the port the target's URL names: the
//! listening socket in `/proc/net/tcp{,6}`, then the process holding it.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::ingest::Ingestor;
use crate::store::ScrapeSuccess;

use super::{ScrapeError, ScrapeSettings, Scraper};

/// Linux's `USER_HZ`: the unit of CPU times in `/proc/<pid>/stat` (100 on every mainstream
/// architecture; the kernel fixes it for user space).
const TICKS_PER_SECOND: f64 = 100.0;
/// Most processes scanned when looking for descendants or a socket's owner.
const MAX_PROCESSES: usize = 65_536;
/// Substrings of a cgroup path that mean "a container runtime made this cgroup".
const CONTAINER_CGROUPS: [&str; 6] = ["docker", "containerd", "kubepods", "libpod", "crio", "lxc"];

/// Where readings of one process tree come from.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessReading {
    /// The process read.
    pub pid: u32,
    /// Processes counted (the process and its descendants; 0 when a cgroup was read).
    pub processes: usize,
    /// CPU time used, seconds (user + system).
    pub cpu_seconds: f64,
    /// Working set, bytes.
    pub working_set_bytes: f64,
    /// The cgroup read instead of the processes, when the process runs in a container.
    pub cgroup: Option<PathBuf>,
    /// The container's limits (none outside a container, or where none is set).
    pub limits: Limits,
}

/// The CPU and memory a cgroup v2 may use: the tightest limit set on it or on any cgroup above
/// it, as the kernel enforces them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Limits {
    /// Cores: `cpu.max`'s quota over its period.
    pub cpu_cores: Option<f64>,
    /// Bytes: `memory.max`.
    pub memory_bytes: Option<f64>,
}

/// `cpu.max` ("$MAX $PERIOD", microseconds; `max` for no limit) as cores.
fn cpu_max_cores(text: &str) -> Option<f64> {
    let mut fields = text.split_whitespace();
    let quota = fields.next()?.parse::<f64>().ok()?;
    let period = fields
        .next()
        .map_or(Some(100_000.0), |p| p.parse::<f64>().ok())?;
    (quota.is_finite() && quota > 0.0 && period > 0.0).then(|| quota / period)
}

/// `memory.max` (bytes; `max` for no limit).
fn memory_max_bytes(text: &str) -> Option<f64> {
    let bytes = text.trim().parse::<u64>().ok()?;
    Some(bytes as f64)
}

/// Most cgroup levels walked up from a container's cgroup when looking for limits.
const MAX_CGROUP_DEPTH: usize = 32;

/// The host's totals.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HostTotals {
    /// CPU cores the host offers.
    pub cpu_cores: f64,
    /// Memory in all, bytes.
    pub memory_total_bytes: f64,
    /// Memory available for new work, bytes.
    pub memory_available_bytes: f64,
}

/// Reads `/proc` (a root other than `/proc` is for tests).
#[derive(Clone, Debug)]
pub struct Proc {
    root: PathBuf,
    cgroup_root: PathBuf,
}

impl Default for Proc {
    fn default() -> Self {
        Proc {
            root: PathBuf::from("/proc"),
            cgroup_root: PathBuf::from("/sys/fs/cgroup"),
        }
    }
}

/// The fields after the command name in `/proc/<pid>/stat` (the name may hold spaces and
/// parentheses; it ends at the last `)`).
fn stat_fields(text: &str) -> Option<Vec<&str>> {
    let after = &text[text.rfind(')')? + 1..];
    Some(after.split_whitespace().collect())
}

impl Proc {
    /// `/proc` at `root` and the cgroup v2 hierarchy at `cgroup_root` (a tree that imitates
    /// them, for tests).
    pub fn at(root: impl Into<PathBuf>, cgroup_root: impl Into<PathBuf>) -> Proc {
        Proc {
            root: root.into(),
            cgroup_root: cgroup_root.into(),
        }
    }

    pub(crate) fn read(&self, path: impl AsRef<Path>) -> Option<String> {
        std::fs::read_to_string(self.root.join(path)).ok()
    }

    /// The processes `/proc` lists (at most [`MAX_PROCESSES`]): id and directory.
    fn processes(&self) -> impl Iterator<Item = (u32, PathBuf)> {
        std::fs::read_dir(&self.root)
            .into_iter()
            .flat_map(|entries| entries.flatten())
            .filter_map(|entry| {
                let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
                Some((pid, entry.path()))
            })
            .take(MAX_PROCESSES)
    }

    /// Every process id with its parent.
    fn parents(&self) -> HashMap<u32, u32> {
        let mut parents = HashMap::new();
        for (pid, _) in self.processes() {
            if let Some(ppid) = self
                .read(format!("{pid}/stat"))
                .as_deref()
                .and_then(stat_fields)
                .and_then(|fields| fields.get(1)?.parse::<u32>().ok())
            {
                parents.insert(pid, ppid);
            }
        }
        parents
    }

    /// `pid` and every process descending from it.
    pub fn tree(&self, pid: u32) -> HashSet<u32> {
        let parents = self.parents();
        let mut tree = HashSet::from([pid]);
        // Parents are listed before children almost always; repeat until nothing is added.
        loop {
            let before = tree.len();
            for (child, parent) in &parents {
                if tree.contains(parent) {
                    tree.insert(*child);
                }
            }
            if tree.len() == before {
                return tree;
            }
        }
    }

    /// The cgroup v2 directory of a process that runs in a container.
    fn container_cgroup(&self, pid: u32) -> Option<PathBuf> {
        let text = self.read(format!("{pid}/cgroup"))?;
        let path = text.lines().find_map(|line| line.strip_prefix("0::"))?;
        if !CONTAINER_CGROUPS.iter().any(|marker| path.contains(marker)) {
            return None;
        }
        let dir = self.cgroup_root.join(path.trim_start_matches('/'));
        dir.join("memory.current").exists().then_some(dir)
    }

    /// The limits on a cgroup: the tightest of its own and its ancestors' (up to the root of
    /// the hierarchy, which has none).
    fn cgroup_limits(&self, dir: &Path) -> Limits {
        let tighter = |known: Option<f64>, found: Option<f64>| match (known, found) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut limits = Limits::default();
        let mut at = Some(dir);
        for _ in 0..MAX_CGROUP_DEPTH {
            let Some(level) = at.filter(|level| *level != self.cgroup_root) else {
                break;
            };
            if !level.starts_with(&self.cgroup_root) {
                break;
            }
            let read = |name: &str| std::fs::read_to_string(level.join(name)).ok();
            limits.cpu_cores = tighter(
                limits.cpu_cores,
                read("cpu.max").as_deref().and_then(cpu_max_cores),
            );
            limits.memory_bytes = tighter(
                limits.memory_bytes,
                read("memory.max").as_deref().and_then(memory_max_bytes),
            );
            at = level.parent();
        }
        limits
    }

    /// CPU and memory of `pid` and its descendants (or its container's cgroup).
    pub fn process(&self, pid: u32) -> Result<ProcessReading, String> {
        if self.read(format!("{pid}/stat")).is_none() {
            return Err(format!(
                "process {pid} is not running (no /proc/{pid}/stat)"
            ));
        }
        if let Some(dir) = self.container_cgroup(pid) {
            let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
            let field = |text: &str, key: &str| {
                text.lines()
                    .find_map(|line| line.strip_prefix(key)?.trim().parse::<f64>().ok())
            };
            let memory = read("memory.current").trim().parse::<f64>().ok();
            let inactive_file = field(&read("memory.stat"), "inactive_file ").unwrap_or(0.0);
            let usage_usec = field(&read("cpu.stat"), "usage_usec ");
            if let (Some(memory), Some(usage)) = (memory, usage_usec) {
                return Ok(ProcessReading {
                    pid,
                    processes: 0,
                    cpu_seconds: usage / 1e6,
                    // As the kubelet counts it: usage less the inactive page cache.
                    working_set_bytes: (memory - inactive_file).max(0.0),
                    limits: self.cgroup_limits(&dir),
                    cgroup: Some(dir),
                });
            }
        }
        Ok(self.process_tree(pid))
    }

    /// CPU and memory of `pid` and its descendants from `/proc` alone, in a container or not
    /// (what a demo replica reads of itself: its container, if any, holds the whole fleet).
    pub fn process_tree(&self, pid: u32) -> ProcessReading {
        let mut reading = ProcessReading {
            pid,
            processes: 0,
            cpu_seconds: 0.0,
            working_set_bytes: 0.0,
            cgroup: None,
            limits: Limits::default(),
        };
        for member in self.tree(pid) {
            // A descendant may exit between the scan and the read: skip it.
            let Some(fields) = self.read(format!("{member}/stat")) else {
                continue;
            };
            let Some(fields) = stat_fields(&fields) else {
                continue;
            };
            let ticks = |index: usize| {
                fields
                    .get(index)
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or(0.0)
            };
            reading.cpu_seconds += (ticks(11) + ticks(12)) / TICKS_PER_SECOND;
            let rss_kib = self
                .read(format!("{member}/status"))
                .and_then(|status| {
                    status.lines().find_map(|line| {
                        line.strip_prefix("VmRSS:")?
                            .trim()
                            .trim_end_matches("kB")
                            .trim()
                            .parse::<f64>()
                            .ok()
                    })
                })
                .unwrap_or(0.0);
            reading.working_set_bytes += rss_kib * 1024.0;
            reading.processes += 1;
        }
        reading
    }

    /// The host's CPU cores and memory.
    pub fn totals(&self) -> Option<HostTotals> {
        let meminfo = self.read("meminfo")?;
        let kib = |key: &str| {
            meminfo.lines().find_map(|line| {
                line.strip_prefix(key)?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<f64>()
                    .ok()
            })
        };
        Some(HostTotals {
            cpu_cores: std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64),
            memory_total_bytes: kib("MemTotal:")? * 1024.0,
            memory_available_bytes: kib("MemAvailable:")? * 1024.0,
        })
    }

    /// The process listening on TCP `port` (IPv4 or IPv6), if this user may see it.
    pub fn listener(&self, port: u16) -> Option<u32> {
        let wanted = format!(":{port:04X}");
        let mut inodes = HashSet::new();
        for table in ["net/tcp", "net/tcp6"] {
            let Some(text) = self.read(table) else {
                continue;
            };
            for line in text.lines().skip(1) {
                let fields: Vec<&str> = line.split_whitespace().collect();
                // local_address, state 0A (LISTEN), inode.
                if fields.len() > 9 && fields[1].ends_with(&wanted) && fields[3] == "0A" {
                    inodes.insert(format!("socket:[{}]", fields[9]));
                }
            }
        }
        if inodes.is_empty() {
            return None;
        }
        for (pid, dir) in self.processes() {
            let Ok(fds) = std::fs::read_dir(dir.join("fd")) else {
                continue;
            };
            for fd in fds.flatten() {
                if let Ok(link) = std::fs::read_link(fd.path())
                    && link.to_str().is_some_and(|link| inodes.contains(link))
                {
                    return Some(pid);
                }
            }
        }
        None
    }
}

/// How a replica's process is found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PidSource {
    /// Named in config.
    Fixed(u32),
    /// The process listening on this local port (looked up again when it goes away).
    Port(u16),
}

impl PidSource {
    /// The source for a target: its configured pid, else the port of a loopback URL.
    pub fn for_target(url: &str, pid: Option<u32>) -> Option<PidSource> {
        if let Some(pid) = pid {
            return Some(PidSource::Fixed(pid));
        }
        let url = reqwest::Url::parse(url).ok()?;
        let host = url.host_str()?;
        let local = host == "localhost"
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        local
            .then(|| url.port_or_known_default())
            .flatten()
            .map(PidSource::Port)
    }

    /// The pid now, keeping `cached` (the last one found) while that process still runs: the
    /// search by port reads every process's file descriptors, so it runs only when needed.
    pub fn resolve_from(&self, proc: &Proc, cached: Option<u32>) -> Result<u32, String> {
        match (self, cached) {
            (PidSource::Port(_), Some(pid)) if proc.read(format!("{pid}/stat")).is_some() => {
                Ok(pid)
            }
            _ => self.resolve(proc),
        }
    }

    /// The pid now.
    pub fn resolve(&self, proc: &Proc) -> Result<u32, String> {
        match self {
            PidSource::Fixed(pid) => Ok(*pid),
            PidSource::Port(port) => proc
                .listener(*port)
                .ok_or_else(|| format!("no process found listening on port {port}")),
        }
    }
}

/// Reads one replica's process (tree) on every scrape.
#[derive(Debug)]
pub struct HostScraper {
    proc: Proc,
    source: PidSource,
    /// The process found last time.
    pid: Option<u32>,
    settings: ScrapeSettings,
    ingestor: Ingestor,
}

impl HostScraper {
    /// A scraper for the process `source` finds.
    pub fn new(source: PidSource, settings: ScrapeSettings) -> HostScraper {
        HostScraper {
            proc: Proc::default(),
            source,
            pid: None,
            settings,
            ingestor: settings.ingestor(Some(vec![crate::ingest::adapter::Engine::Inferscope])),
        }
    }
}

/// The exposition page for one reading, in inferscope's names.
pub fn render(reading: &ProcessReading, totals: Option<HostTotals>) -> String {
    let mut page = String::with_capacity(1024);
    let mut line = |kind: &str, name: &str, value: f64| {
        let _infallible = writeln!(page, "# TYPE {name} {kind}\n{name} {value}");
    };
    line(
        "counter",
        "inferscope_container_cpu_usage_seconds_total",
        reading.cpu_seconds,
    );
    line(
        "gauge",
        "inferscope_container_memory_working_set_bytes",
        reading.working_set_bytes,
    );
    if let Some(cores) = reading.limits.cpu_cores {
        line("gauge", "inferscope_container_cpu_limit_cores", cores);
    }
    if let Some(bytes) = reading.limits.memory_bytes {
        line("gauge", "inferscope_container_memory_limit_bytes", bytes);
    }
    line("gauge", "inferscope_process_pid", f64::from(reading.pid));
    if reading.cgroup.is_none() {
        line(
            "gauge",
            "inferscope_process_tree_processes",
            reading.processes as f64,
        );
    }
    if let Some(totals) = totals {
        line("gauge", "inferscope_host_cpu_cores", totals.cpu_cores);
        line(
            "gauge",
            "inferscope_host_memory_total_bytes",
            totals.memory_total_bytes,
        );
        line(
            "gauge",
            "inferscope_host_memory_available_bytes",
            totals.memory_available_bytes,
        );
    }
    page
}

impl Scraper for HostScraper {
    async fn scrape(&mut self, at_ms: i64) -> Result<ScrapeSuccess, ScrapeError> {
        let proc = self.proc.clone();
        let source = self.source.clone();
        let cached = self.pid.take();
        let (page, pid) = tokio::task::spawn_blocking(move || {
            let pid = source.resolve_from(&proc, cached)?;
            let reading = proc.process(pid)?;
            Ok::<_, String>((render(&reading, proc.totals()), pid))
        })
        .await
        .map_err(|error| ScrapeError::Source(format!("host reading task failed: {error}")))?
        .map_err(ScrapeError::Source)?;
        self.pid = Some(pid);
        super::ingest_rendered(&mut self.ingestor, &page, &self.settings, at_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_names_parse() {
        let line = "42 (my (odd) name) S 7 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0";
        let fields = stat_fields(line).expect("fields");
        assert_eq!(fields[1], "7", "ppid");
        assert_eq!((fields[11], fields[12]), ("250", "50"), "utime, stime");
    }

    #[test]
    fn targets_on_loopback_are_found_by_port() {
        assert_eq!(
            PidSource::for_target("http://127.0.0.1:8000/metrics", None),
            Some(PidSource::Port(8000))
        );
        assert_eq!(
            PidSource::for_target("http://localhost/metrics", None),
            Some(PidSource::Port(80))
        );
        assert_eq!(
            PidSource::for_target("http://10.0.0.5:8000/metrics", None),
            None
        );
        assert_eq!(
            PidSource::for_target("http://10.0.0.5:8000/metrics", Some(12)),
            Some(PidSource::Fixed(12))
        );
    }

    #[test]
    fn this_process_reads_as_itself() {
        let proc = Proc::default();
        let me = std::process::id();
        let reading = proc.process(me).expect("own process");
        assert!(reading.processes >= 1);
        assert!(reading.working_set_bytes > 1_000_000.0, "{reading:?}");
        let totals = proc.totals().expect("meminfo");
        assert!(totals.memory_total_bytes >= totals.memory_available_bytes);
        assert!(proc.process(u32::MAX).is_err());
        let page = render(&reading, Some(totals));
        assert!(page.contains("inferscope_container_cpu_usage_seconds_total "));
        assert!(page.contains("# TYPE inferscope_container_memory_working_set_bytes gauge"));
    }
}

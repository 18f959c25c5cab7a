//! Host readings against processes this test starts: a busy loop reads as about one core, an
//! allocation shows in the working set, descendants count with their parent, and a process is
//! found by the port it listens on; a container is read from its cgroup with its limits.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking
#![allow(clippy::disallowed_methods)] // plain synchronous tests: no async worker to block

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use server::scrape::host::Proc;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _gone_already = self.0.kill();
        let _reaped = self.0.wait();
    }
}

fn cores_used(proc: &Proc, pid: u32, over: Duration) -> f64 {
    let first = proc.process(pid).expect("reading");
    let started = Instant::now();
    std::thread::sleep(over);
    let second = proc.process(pid).expect("reading");
    (second.cpu_seconds - first.cpu_seconds) / started.elapsed().as_secs_f64()
}

#[test]
fn a_busy_loop_is_one_core_and_an_idle_process_none() {
    let proc = Proc::default();
    let busy = Killed(
        Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .expect("sh"),
    );
    let idle = Killed(Command::new("sleep").arg("30").spawn().expect("sleep"));
    // Let the loop get going, then measure over two seconds.
    std::thread::sleep(Duration::from_millis(300));
    let busy_cores = cores_used(&proc, busy.0.id(), Duration::from_secs(2));
    let idle_cores = cores_used(&proc, idle.0.id(), Duration::from_secs(1));
    // Two cores here, other tests may share them: about one core, not a tenth, not two.
    assert!(
        (0.5..=1.3).contains(&busy_cores),
        "busy loop: {busy_cores:.2} cores"
    );
    assert!(idle_cores < 0.05, "sleep: {idle_cores:.3} cores");
}

#[test]
fn an_allocation_shows_in_memory_and_children_count_with_their_parent() {
    let proc = Proc::default();
    // A shell whose child holds 256 MiB it has written to (so the pages are resident).
    let parent = Killed(
        Command::new("sh")
            .args([
                "-c",
                "python3 -c \"x = b'\\x01' * (256 << 20); import sys; sys.stdout.write('ready\\n'); sys.stdout.flush(); import time; time.sleep(60)\"",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("sh"),
    );
    let mut parent = parent;
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(parent.0.stdout.as_mut().expect("stdout")),
        &mut line,
    )
    .expect("the child says it is ready");
    assert_eq!(line.trim(), "ready");
    let reading = proc.process(parent.0.id()).expect("reading");
    assert!(
        reading.processes >= 2,
        "the shell and its child: {reading:?}"
    );
    assert!(
        reading.working_set_bytes >= 256.0 * 1024.0 * 1024.0,
        "256 MiB held by the child: {:.0} MiB",
        reading.working_set_bytes / 1048576.0
    );
    let small = Killed(Command::new("sleep").arg("30").spawn().expect("sleep"));
    let alone = proc.process(small.0.id()).expect("reading");
    assert!(
        alone.working_set_bytes < 64.0 * 1024.0 * 1024.0,
        "{alone:?}"
    );
    assert_eq!(alone.processes, 1);
}

#[test]
fn a_process_is_found_by_the_port_it_listens_on() {
    let proc = Proc::default();
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    let port = listener.local_addr().expect("address").port();
    assert_eq!(proc.listener(port), Some(std::process::id()));
    drop(listener);
    assert_eq!(proc.listener(port), None);
}

/// A `/proc` and a cgroup v2 hierarchy written as the kernel shows them, for one process in a
/// Kubernetes container: the container's and the pod's cgroups, each with limits of its own.
struct FakeHost {
    root: std::path::PathBuf,
}

impl FakeHost {
    fn new(name: &str) -> FakeHost {
        let root =
            std::env::temp_dir().join(format!("inferscope-host-{name}-{}", std::process::id()));
        let _absent = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("proc/4242")).unwrap();
        FakeHost { root }
    }

    fn write(&self, path: &str, text: &str) {
        let path = self.root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn proc(&self) -> Proc {
        Proc::at(self.root.join("proc"), self.root.join("cgroup"))
    }
}

impl Drop for FakeHost {
    fn drop(&mut self) {
        let _left = std::fs::remove_dir_all(&self.root);
    }
}

const POD: &str = "cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b.slice";
/// The container's cgroup, inside [`POD`].
const CONTAINER: &str = "cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b.slice/cri-containerd-9f8e.scope";

fn container_host(name: &str) -> FakeHost {
    let host = FakeHost::new(name);
    host.write(
        "proc/4242/stat",
        "4242 (python3) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0",
    );
    host.write(
        "proc/4242/cgroup",
        "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b.slice/cri-containerd-9f8e.scope\n",
    );
    let container = CONTAINER;
    host.write(&format!("{container}/memory.current"), "734003200\n");
    host.write(
        &format!("{container}/memory.stat"),
        "anon 600000000\nfile 134003200\ninactive_file 100000000\nactive_file 34003200\n",
    );
    host.write(
        &format!("{container}/cpu.stat"),
        "usage_usec 12500000\nuser_usec 10000000\nsystem_usec 2500000\n",
    );
    host
}

#[test]
fn a_container_reads_its_limits_the_tightest_of_its_cgroup_and_those_above() {
    let host = container_host("limits");
    let container = CONTAINER;
    // The container: 1.5 cores (150 ms in every 100 ms), 2 GiB. The pod above it: 4 cores
    // and 1 GiB, which is tighter for memory. The kernel enforces both (cgroup-v2.rst:
    // "cpu.max … $MAX $PERIOD", "memory.max … hard limit"), so the reading is 1.5 cores and
    // 1 GiB.
    host.write(&format!("{container}/cpu.max"), "150000 100000\n");
    host.write(&format!("{container}/memory.max"), "2147483648\n");
    host.write(&format!("{POD}/cpu.max"), "400000 100000\n");
    host.write(&format!("{POD}/memory.max"), "1073741824\n");
    // Above the pod nothing is limited ("max").
    host.write(
        "cgroup/kubepods.slice/kubepods-burstable.slice/cpu.max",
        "max 100000\n",
    );
    host.write(
        "cgroup/kubepods.slice/kubepods-burstable.slice/memory.max",
        "max\n",
    );
    let reading = host.proc().process(4242).expect("reading");
    assert_eq!(
        reading.processes, 0,
        "the cgroup is read, not the process tree"
    );
    assert_eq!(reading.cpu_seconds, 12.5);
    assert_eq!(reading.working_set_bytes, 634_003_200.0);
    assert_eq!(reading.limits.cpu_cores, Some(1.5));
    assert_eq!(reading.limits.memory_bytes, Some(1_073_741_824.0));
    let page = server::scrape::host::render(&reading, None);
    assert!(
        page.contains("\ninferscope_container_cpu_limit_cores 1.5\n"),
        "{page}"
    );
    assert!(
        page.contains("\ninferscope_container_memory_limit_bytes 1073741824\n"),
        "{page}"
    );
}

#[test]
fn a_container_without_limits_reports_none() {
    let host = container_host("unlimited");
    let container = CONTAINER;
    host.write(&format!("{container}/cpu.max"), "max 100000\n");
    host.write(&format!("{container}/memory.max"), "max\n");
    let reading = host.proc().process(4242).expect("reading");
    assert_eq!(reading.cpu_seconds, 12.5);
    assert_eq!(reading.limits.cpu_cores, None);
    assert_eq!(reading.limits.memory_bytes, None);
    let page = server::scrape::host::render(&reading, None);
    assert!(!page.contains("limit"), "{page}");
}

#[test]
fn a_cpu_quota_with_another_period_is_quota_over_period() {
    let host = container_host("period");
    let container = CONTAINER;
    // 25 ms in every 50 ms: half a core.
    host.write(&format!("{container}/cpu.max"), "25000 50000\n");
    let reading = host.proc().process(4242).expect("reading");
    assert_eq!(reading.limits.cpu_cores, Some(0.5));
    assert_eq!(reading.limits.memory_bytes, None);
}

//! Host readings against processes this test starts: a busy loop reads as about one core, an
//! allocation shows in the working set, descendants count with their parent, and a process is
//! found by the port it listens on.
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

//! Reads this host's NVIDIA GPUs through NVML — the same code the server runs — and prints what
//! it read: per GPU utilisation, memory, power, temperature, SM clock and the processes on it
//! (with each process's CPU and memory from /proc), then the exposition page the server would
//! ingest for a replica owning every GPU. Run it on a machine with an NVIDIA GPU:
//!
//!   scripts/gpu-check.sh [path/to/libnvidia-ml.so.1]
//!
//! Exits 1 when no driver loads (and says so), 0 otherwise.
#![allow(clippy::print_stdout)] // a command-line tool that reports on stdout

use std::process::ExitCode;

use server::scrape::host::Proc;
use server::scrape::nvml::{DEFAULT_LIBRARY, GpuReader, render};

fn main() -> ExitCode {
    let library = std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_LIBRARY.to_owned());
    let reader = match GpuReader::open(&library) {
        Ok(reader) => reader,
        Err(reason) => {
            eprintln!("gpu_check: {reason}");
            return ExitCode::FAILURE;
        }
    };
    let host = match reader.read() {
        Ok(host) => host,
        Err(reason) => {
            eprintln!("gpu_check: {reason}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "NVML loaded from {library}: {} GPU(s) read, {} failed",
        host.gpus.len(),
        host.failed.len()
    );
    let proc = Proc::default();
    for gpu in &host.gpus {
        println!(
            "GPU {} {} ({}): utilisation {:.0} %, memory {:.2} / {:.2} GiB, power {}, temperature {}, SM clock {}",
            gpu.index,
            gpu.name,
            gpu.uuid,
            gpu.utilization * 100.0,
            gpu.memory_used_bytes / 1073741824.0,
            gpu.memory_total_bytes / 1073741824.0,
            gpu.power_watts
                .map_or("n/a".into(), |w| format!("{w:.1} W")),
            gpu.temperature_celsius
                .map_or("n/a".into(), |c| format!("{c:.0} °C")),
            gpu.sm_clock_hertz
                .map_or("n/a".into(), |hz| format!("{:.0} MHz", hz / 1e6)),
        );
        for (pid, used) in &gpu.processes {
            let host_reading = proc.process(*pid).map_or_else(
                |reason| format!("({reason})"),
                |reading| {
                    format!(
                        "CPU {:.1} s so far, working set {:.0} MiB over {} process(es)",
                        reading.cpu_seconds,
                        reading.working_set_bytes / 1048576.0,
                        reading.processes
                    )
                },
            );
            println!(
                "  process {pid}: GPU memory {}; {host_reading}",
                used.map_or("n/a".into(), |bytes| format!(
                    "{:.0} MiB",
                    bytes / 1048576.0
                ))
            );
        }
    }
    for (index, reason) in &host.failed {
        println!("GPU {index} failed: {reason}");
    }
    println!("--- the page a replica owning every GPU would get ---");
    let all: Vec<_> = host.gpus.iter().collect();
    print!("{}", render(&all));
    ExitCode::SUCCESS
}

//! CPU time each process spends per chat during a load row. Once the box is saturated this is
//! what sets time to first token: C clients sending back to back each wait one cycle of
//! C / (jobs per second) per chat, and the first token arrives a fixed share of the way
//! through that cycle — so TTFT ≈ share × C × (CPU per chat) / cores.

use std::collections::HashMap;

/// The processes whose time is counted, by role.
pub struct Processes {
    pub api: u32,
    pub worker: u32,
    /// The postmaster; its children (backends, WAL writer, autovacuum) count as Postgres.
    pub postgres: Option<u32>,
    pub nats: Option<u32>,
}

pub const ROLES: [&str; 5] = [
    "api",
    "worker",
    "postgres",
    "nats",
    "load client + fake upstream",
];

/// CPU seconds by role (indexed as `ROLES`), since each process started.
#[derive(Clone, Copy, Default)]
pub struct Sample([f64; 5]);

/// `/proc/*/stat` counts in USER_HZ, which Linux fixes at 100 for user space.
const TICKS_PER_SECOND: f64 = 100.0;

impl Processes {
    pub fn sample(&self) -> Sample {
        let me = std::process::id();
        let mut sample = Sample::default();
        for (pid, (ppid, ticks)) in all_processes() {
            let role = if pid == self.api {
                0
            } else if pid == self.worker {
                1
            } else if self.postgres.is_some_and(|pg| pid == pg || ppid == pg) {
                2
            } else if Some(pid) == self.nats {
                3
            } else if pid == me {
                4
            } else {
                continue;
            };
            sample.0[role] += ticks as f64 / TICKS_PER_SECOND;
        }
        sample
    }
}

impl Sample {
    /// Milliseconds of CPU per chat by role, between `before` and `self`.
    pub fn per_chat_ms(&self, before: &Sample, chats: usize) -> [f64; 5] {
        let chats = chats.max(1) as f64;
        std::array::from_fn(|i| (self.0[i] - before.0[i]) * 1000.0 / chats)
    }
}

/// pid → (parent pid, user + system ticks), for every process we may read.
fn all_processes() -> HashMap<u32, (u32, u64)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            Some((pid, parse_stat(&stat)?))
        })
        .collect()
}

/// Fields after the command name (which may hold spaces and parentheses): state, ppid, …,
/// utime (14th field of the line), stime (15th).
fn parse_stat(stat: &str) -> Option<(u32, u64)> {
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((ppid, utime + stime))
}

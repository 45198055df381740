//! Where a measured phase's time went: the machine's CPU by process group (from
//! `/proc`), and each stream job's micro-batches (from the platform's `/metrics`).

use std::collections::BTreeMap;

/// CPU ticks so far: the machine's total, and each process's (user + system) with the
/// group it counts in. Keyed by pid, not by name: a kernel worker's name changes with
/// the work it does, and a renamed process must count only its ticks since the earlier
/// sample, not all of them.
#[derive(Debug, Default, Clone)]
pub struct Cpu {
    total: u64,
    /// Ticks the hypervisor gave this VM's cores to another (`steal` in `/proc/stat`).
    steal: u64,
    /// (pid, the JVM's JIT compiler threads apart) → (group, ticks).
    procs: BTreeMap<(u32, bool), (String, u64)>,
}

/// The group a process counts in: its command, with the two JVMs told apart.
fn group(pid: &str, comm: &str) -> String {
    if comm == "java" {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if cmdline.contains("opensearch") {
            return "opensearch".into();
        }
        if cmdline.contains("kafka") {
            return "kafka".into();
        }
    }
    comm.to_owned()
}

/// A `/proc/…/stat` line's command and user + system ticks. `pid (comm) state ppid …`:
/// the command may hold spaces; the fields after its closing parenthesis are fixed
/// (utime and stime are the 12th and 13th).
fn stat_ticks(stat: &str) -> Option<(&str, u64)> {
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let fields: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
    Some((&stat[open + 1..close], field(11)? + field(12)?))
}

/// The `cpu ` line of `/proc/stat`: all ticks (user nice system idle iowait irq softirq
/// steal; guest time is already inside user) and the stolen ones.
fn machine_ticks(line: &str) -> (u64, u64) {
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    (
        ticks.iter().take(8).sum(),
        ticks.get(7).copied().unwrap_or(0),
    )
}

/// A HotSpot JIT compiler thread (`C2 CompilerThread0`, cut to 15 characters).
fn is_jit(thread: &str) -> bool {
    thread.starts_with("C1 CompilerThre") || thread.starts_with("C2 CompilerThre")
}

impl Cpu {
    pub fn sample() -> Self {
        let mut cpu = Self::default();
        if let Ok(stat) = std::fs::read_to_string("/proc/stat") {
            if let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) {
                (cpu.total, cpu.steal) = machine_ticks(line);
            }
        }
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return cpu;
        };
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(pid) = name.parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let Some((comm, ticks)) = stat_ticks(&stat) else {
                continue;
            };
            let group = group(&name, comm);
            // A JVM compiling its hot code competes for the same cores: its compiler
            // threads count apart, so a run can tell warm-up from steady state. (A
            // compiler thread that ends between two samples — HotSpot stops idle ones —
            // leaves its ticks in the process's total: they then count as the JVM's.)
            let jit = if comm == "java" { jit_ticks(pid) } else { 0 };
            if jit > 0 {
                cpu.procs.insert((pid, true), (format!("{group} JIT"), jit));
            }
            cpu.procs
                .insert((pid, false), (group, ticks.saturating_sub(jit)));
        }
        cpu
    }

    /// The share of the machine's time between `self` and `later` that the hypervisor
    /// gave to other guests.
    pub fn stolen(&self, later: &Cpu) -> f64 {
        later.steal.saturating_sub(self.steal) as f64
            / later.total.saturating_sub(self.total).max(1) as f64
    }

    /// Each group's share of the machine between `self` and `later` (of all cores: 1.0
    /// is every core busy), the largest first, and the share left idle, stolen or
    /// unattributed.
    pub fn shares(&self, later: &Cpu) -> (Vec<(String, f64)>, f64) {
        let total = later.total.saturating_sub(self.total).max(1) as f64;
        let mut groups: BTreeMap<&str, u64> = BTreeMap::new();
        for (key, (group, ticks)) in &later.procs {
            let before = self.procs.get(key).map_or(0, |(_, t)| *t);
            *groups.entry(group).or_default() += ticks.saturating_sub(before);
        }
        let mut shares: Vec<(String, f64)> = groups
            .into_iter()
            .map(|(name, t)| (name.to_owned(), t as f64 / total))
            .filter(|(_, s)| *s >= 0.005)
            .collect();
        shares.sort_by(|a, b| b.1.total_cmp(&a.1));
        let busy: f64 = shares.iter().map(|(_, s)| s).sum();
        (shares, (1.0 - busy).max(0.0))
    }
}

/// The ticks of a JVM's JIT compiler threads.
fn jit_ticks(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("stat")).ok())
        .filter_map(|stat| {
            let (thread, ticks) = stat_ticks(&stat)?;
            is_jit(thread).then_some(ticks)
        })
        .sum()
}

/// One line: `postgres 41 %, kafka 12 %, …, stolen by the hypervisor 9 %, idle or
/// unattributed 3 %` (the last: idle, I/O wait, interrupts, groups under 0.5 %).
pub fn describe(before: &Cpu, after: &Cpu) -> String {
    let (shares, rest) = before.shares(after);
    let stolen = before.stolen(after);
    let mut parts: Vec<String> = shares
        .iter()
        .map(|(name, s)| format!("{name} {:.0} %", s * 100.0))
        .collect();
    parts.push(format!("stolen by the hypervisor {:.0} %", stolen * 100.0));
    parts.push(format!(
        "idle or unattributed {:.0} %",
        (rest - stolen).max(0.0) * 100.0
    ));
    parts.join(", ")
}

/// A Prometheus text exposition's samples: `name{labels}` → value.
pub fn metrics(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// Per stream job, between two scrapes `phase_secs` apart: batches, mean messages and
/// mean time per batch, and the share of the phase spent in batches.
pub fn batches(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
    phase_secs: f64,
) -> Vec<String> {
    let delta = |key: &str| {
        after.get(key).copied().unwrap_or(0.0) - before.get(key).copied().unwrap_or(0.0)
    };
    let mut jobs: Vec<String> = after
        .keys()
        .filter_map(|k| {
            k.strip_prefix("fitsync_job_batch_duration_seconds_count{job=\"")
                .and_then(|rest| rest.strip_suffix("\"}"))
                .map(str::to_owned)
        })
        .collect();
    jobs.sort();
    jobs.iter()
        .filter_map(|job| {
            let n = delta(&format!("fitsync_job_batch_duration_seconds_count{{job=\"{job}\"}}"));
            if n < 1.0 {
                return None;
            }
            let secs = delta(&format!("fitsync_job_batch_duration_seconds_sum{{job=\"{job}\"}}"));
            let messages: f64 = after
                .keys()
                .filter(|k| {
                    k.starts_with("fitsync_job_events_total{")
                        && k.contains(&format!("job=\"{job}\""))
                })
                .map(|k| delta(k))
                .sum();
            Some(format!(
                "{job}: {n:.0} batches, {:.1} messages and {:.1} ms each on average ({:.0} % of the phase busy)",
                messages / n,
                secs / n * 1000.0,
                secs / phase_secs.max(f64::EPSILON) * 100.0,
            ))
        })
        .collect()
}

/// Per job, between two scrapes: the mean freshness (write → the job's commit) and the
/// buckets holding its median and 99th percentile (upper bounds: the buckets double).
pub fn freshness(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> Vec<String> {
    let delta = |key: &str| {
        after.get(key).copied().unwrap_or(0.0) - before.get(key).copied().unwrap_or(0.0)
    };
    let prefix = "fitsync_pipeline_freshness_seconds_count{job=\"";
    after
        .keys()
        .filter_map(|k| k.strip_prefix(prefix)?.strip_suffix("\"}"))
        .filter_map(|job| {
            let n = delta(&format!("{prefix}{job}\"}}"));
            if n < 1.0 {
                return None;
            }
            let mean = delta(&format!(
                "fitsync_pipeline_freshness_seconds_sum{{job=\"{job}\"}}"
            )) / n;
            let mut buckets: Vec<(f64, f64)> = after
                .keys()
                .filter_map(|k| {
                    let le = k
                        .strip_prefix("fitsync_pipeline_freshness_seconds_bucket{")?
                        .strip_suffix("\"}")?;
                    if !le.contains(&format!("job=\"{job}\"")) {
                        return None;
                    }
                    let bound = le.rsplit_once("le=\"")?.1;
                    let bound = if bound == "+Inf" {
                        f64::INFINITY
                    } else {
                        bound.parse().ok()?
                    };
                    Some((bound, delta(k)))
                })
                .collect();
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            let at = |q: f64| {
                buckets
                    .iter()
                    .find(|(_, cumulative)| *cumulative >= q * n)
                    .map_or(f64::INFINITY, |(bound, _)| *bound)
            };
            Some(format!(
                "{job}: freshness mean {:.0} ms, p50 ≤ {:.0} ms, p99 ≤ {:.0} ms ({n:.0} results)",
                mean * 1000.0,
                at(0.5) * 1000.0,
                at(0.99) * 1000.0,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(total: u64, procs: &[(u32, bool, &str, u64)]) -> Cpu {
        Cpu {
            total,
            steal: 0,
            procs: procs
                .iter()
                .map(|&(pid, jit, group, ticks)| ((pid, jit), (group.to_owned(), ticks)))
                .collect(),
        }
    }

    #[test]
    fn a_stat_line_gives_its_command_and_user_plus_system_ticks() {
        // Fields after the command: state ppid pgrp session tty tpgid flags minflt
        // cminflt majflt cmajflt utime(12th) stime(13th) …
        let line = "42 (C2 CompilerThre) S 1 42 42 0 -1 4194560 10 0 0 0 700 55 0 0 20 0";
        assert_eq!(stat_ticks(line), Some(("C2 CompilerThre", 700 + 55)));
        assert!(is_jit("C2 CompilerThre") && is_jit("C1 CompilerThre"));
        // user nice system idle iowait irq softirq steal guest guest_nice
        assert_eq!(
            machine_ticks("cpu  100 2 30 500 4 0 6 58 40 0"),
            (100 + 2 + 30 + 500 + 4 + 6 + 58, 58)
        );
        assert!(!is_jit("data-plane-kafk"));
    }

    #[test]
    fn shares_are_per_process_deltas_even_when_a_process_is_renamed() {
        // A kernel worker busy for 9 000 ticks before the phase and renamed during it
        // counts its 10 ticks in the phase, not 9 010; a JVM's compiler threads count
        // apart from its other threads; a process started in the phase counts whole.
        let before = cpu(
            1_000,
            &[
                (7, false, "kworker/u8:1-writeback", 9_000),
                (9, false, "kafka", 500),
                (9, true, "kafka JIT", 300),
            ],
        );
        let after = cpu(
            1_200,
            &[
                (7, false, "kworker/u8:1-ext4-rsv-conversion", 9_010),
                (9, false, "kafka", 560),
                (9, true, "kafka JIT", 330),
                (11, false, "postgres", 80),
            ],
        );
        let (shares, idle) = before.shares(&after);
        assert_eq!(
            shares,
            [
                ("postgres".to_owned(), 80.0 / 200.0),
                ("kafka".to_owned(), 60.0 / 200.0),
                ("kafka JIT".to_owned(), 30.0 / 200.0),
                ("kworker/u8:1-ext4-rsv-conversion".to_owned(), 10.0 / 200.0),
            ]
        );
        assert!((idle - (200.0 - 180.0) / 200.0).abs() < 1e-9);
    }

    #[test]
    fn a_scrape_reads_samples_and_batches_are_per_job_deltas() {
        let before = metrics(
            "# HELP x\nfitsync_job_batch_duration_seconds_count{job=\"alerts\"} 10\n\
             fitsync_job_batch_duration_seconds_sum{job=\"alerts\"} 1\n\
             fitsync_job_events_total{job=\"alerts\",outcome=\"applied\"} 100\n",
        );
        let after = metrics(
            "fitsync_job_batch_duration_seconds_count{job=\"alerts\"} 30\n\
             fitsync_job_batch_duration_seconds_sum{job=\"alerts\"} 3\n\
             fitsync_job_events_total{job=\"alerts\",outcome=\"applied\"} 300\n\
             fitsync_job_events_total{job=\"alerts\",outcome=\"skipped\"} 40\n",
        );
        // 20 batches, (200 + 40) / 20 = 12 messages, 2 s / 20 = 100 ms each.
        let lines = batches(&before, &after, 4.0);
        assert_eq!(lines.len(), 1);
        assert_eq!(
            lines[0],
            "alerts: 20 batches, 12.0 messages and 100.0 ms each on average (50 % of the phase busy)"
        );
    }

    #[test]
    fn freshness_quantiles_are_the_buckets_that_reach_them() {
        let before = metrics("");
        let after = metrics(
            "fitsync_pipeline_freshness_seconds_bucket{job=\"analytics\",le=\"0.1\"} 60\n\
             fitsync_pipeline_freshness_seconds_bucket{job=\"analytics\",le=\"0.2\"} 98\n\
             fitsync_pipeline_freshness_seconds_bucket{job=\"analytics\",le=\"0.4\"} 100\n\
             fitsync_pipeline_freshness_seconds_bucket{job=\"analytics\",le=\"+Inf\"} 100\n\
             fitsync_pipeline_freshness_seconds_sum{job=\"analytics\"} 10\n\
             fitsync_pipeline_freshness_seconds_count{job=\"analytics\"} 100\n",
        );
        // 60 of 100 within 0.1 s: the median's bucket; 99 only within 0.4 s.
        assert_eq!(
            freshness(&before, &after),
            ["analytics: freshness mean 100 ms, p50 ≤ 100 ms, p99 ≤ 400 ms (100 results)"]
        );
    }
}

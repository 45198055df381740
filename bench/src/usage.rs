//! Where a measured phase's time went: the machine's CPU by process group (from
//! `/proc`), and each stream job's micro-batches (from the platform's `/metrics`).

use std::collections::BTreeMap;

/// CPU ticks so far: the machine's total, and each process group's (user + system).
#[derive(Debug, Default, Clone)]
pub struct Cpu {
    total: u64,
    groups: BTreeMap<String, u64>,
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

impl Cpu {
    pub fn sample() -> Self {
        let mut cpu = Self::default();
        if let Ok(stat) = std::fs::read_to_string("/proc/stat") {
            if let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) {
                cpu.total = line
                    .split_whitespace()
                    .skip(1)
                    .filter_map(|v| v.parse::<u64>().ok())
                    .sum();
            }
        }
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return cpu;
        };
        for entry in dir.flatten() {
            let pid = entry.file_name().to_string_lossy().into_owned();
            if !pid.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // `pid (comm) state ppid …`: the command may hold spaces; the fields after
            // its closing parenthesis are fixed (utime and stime are the 12th and 13th).
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                continue;
            };
            let comm = &stat[open + 1..close];
            let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
            let ticks = fields
                .get(11)
                .and_then(|u| u.parse::<u64>().ok())
                .unwrap_or(0)
                + fields
                    .get(12)
                    .and_then(|s| s.parse::<u64>().ok())
                    .unwrap_or(0);
            *cpu.groups.entry(group(&pid, comm)).or_default() += ticks;
        }
        cpu
    }

    /// Each group's share of the machine between `self` and `later` (of all cores: 1.0
    /// is every core busy), the largest first, and the share left idle or unattributed.
    pub fn shares(&self, later: &Cpu) -> (Vec<(String, f64)>, f64) {
        let total = later.total.saturating_sub(self.total).max(1) as f64;
        let mut shares: Vec<(String, f64)> = later
            .groups
            .iter()
            .map(|(name, t)| {
                let before = self.groups.get(name).copied().unwrap_or(0);
                (name.clone(), t.saturating_sub(before) as f64 / total)
            })
            .filter(|(_, s)| *s >= 0.005)
            .collect();
        shares.sort_by(|a, b| b.1.total_cmp(&a.1));
        let busy: f64 = shares.iter().map(|(_, s)| s).sum();
        (shares, (1.0 - busy).max(0.0))
    }
}

/// One line: `postgres 41 %, kafka 12 %, … (idle 3 %)`.
pub fn describe(before: &Cpu, after: &Cpu) -> String {
    let (shares, idle) = before.shares(after);
    let mut parts: Vec<String> = shares
        .iter()
        .map(|(name, s)| format!("{name} {:.0} %", s * 100.0))
        .collect();
    parts.push(format!("idle {:.0} %", idle * 100.0));
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

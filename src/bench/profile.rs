//! Where a request's time goes: the server's own timings of each stage (its `/metrics`
//! histograms), read before and after a load, so the means are those of that load alone.

use std::collections::BTreeMap;

/// Sums and counts of every histogram series, by series (`name{labels}`).
#[derive(Debug, Default)]
pub struct Scrape(BTreeMap<String, (f64, f64)>);

impl Scrape {
    /// Reads `base/metrics`.
    pub async fn take(http: &reqwest::Client, base: &str) -> anyhow::Result<Self> {
        let text = http.get(format!("{base}/metrics")).send().await?.error_for_status()?.text().await?;
        Ok(Self::parse(&text))
    }

    fn parse(text: &str) -> Self {
        let mut series: BTreeMap<String, (f64, f64)> = BTreeMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((key, value)) = line.rsplit_once(' ') else { continue };
            let Ok(value) = value.parse::<f64>() else { continue };
            let (name, labels) = key.split_once('{').map_or((key, ""), |(n, l)| (n, l));
            let labels = labels.trim_end_matches('}');
            if let Some(base) = name.strip_suffix("_sum") {
                series.entry(format!("{base}{{{labels}}}")).or_default().0 = value;
            } else if let Some(base) = name.strip_suffix("_count") {
                series.entry(format!("{base}{{{labels}}}")).or_default().1 = value;
            }
        }
        Self(series)
    }

    /// The mean, in milliseconds, of the series of `name` whose labels contain `label`, over
    /// what was recorded between `before` and `self`; `None` when nothing was.
    pub fn mean_ms_since(&self, before: &Self, name: &str, label: &str) -> Option<f64> {
        let (mut sum, mut count) = (0.0, 0.0);
        for (key, (s, c)) in &self.0 {
            let Some(labels) = key.strip_prefix(name).and_then(|rest| rest.strip_prefix('{')) else {
                continue;
            };
            if !labels.contains(label) {
                continue;
            }
            let (s0, c0) = before.0.get(key).copied().unwrap_or_default();
            sum += s - s0;
            count += c - c0;
        }
        (count > 0.0).then(|| sum / count * 1000.0)
    }
}

/// One line of a profile: the stages and their mean times, in the order given.
pub fn line(title: &str, stages: &[(&str, Option<f64>)]) -> String {
    let parts: Vec<String> = stages
        .iter()
        .map(|(stage, ms)| match ms {
            Some(ms) => format!("{stage} {ms:.2} ms"),
            None => format!("{stage} -"),
        })
        .collect();
    format!("{title}: {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn means_are_of_what_was_recorded_between_two_scrapes() {
        let before = Scrape::parse(
            "# TYPE x summary\nx_sum{stage=\"load\"} 1\nx_count{stage=\"load\"} 10\nx{stage=\"load\",quantile=\"0.5\"} 0.1\n",
        );
        let after = Scrape::parse("x_sum{stage=\"load\"} 3\nx_count{stage=\"load\"} 20\nx_sum{stage=\"append\"} 1\nx_count{stage=\"append\"} 4\n");
        assert_eq!(after.mean_ms_since(&before, "x", "stage=\"load\""), Some(200.0));
        assert_eq!(after.mean_ms_since(&before, "x", "stage=\"append\""), Some(250.0));
        assert_eq!(after.mean_ms_since(&before, "x", "stage=\"none\""), None);
        assert_eq!(line("t", &[("a", Some(1.0)), ("b", None)]), "t: a 1.00 ms, b -");
    }
}

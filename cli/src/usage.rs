//! `sluice usage [--interval 15M|1H|1D|7D]`: what you used — totals, then requests, tokens and
//! cost per bucket (buckets without requests left out), then latency by model.

use reqwest::Method;
use serde_json::Value;

use crate::{client::Api, error::CliResult};

pub async fn show(api: &mut Api, interval: &str) -> CliResult<()> {
    let q = format!("?interval={interval}");
    let overview: Value = api
        .call(Method::GET, &format!("/api/usage/overview{q}"), None)
        .await?;
    let series: Value = api
        .call(Method::GET, &format!("/api/usage/timeseries{q}"), None)
        .await?;
    let latency: Value = api
        .call(Method::GET, &format!("/api/usage/latency{q}"), None)
        .await?;
    print!("{}", render(&overview, &series, &latency));
    Ok(())
}

fn ms(v: &Value) -> String {
    v.as_u64().map_or("-".into(), |ms| format!("{ms} ms"))
}

fn render(overview: &Value, series: &Value, latency: &Value) -> String {
    let n = |v: &Value| v.as_i64().unwrap_or(0);
    let usd = |v: &Value| v.as_f64().unwrap_or(0.0);
    let mut out = format!(
        "Usage from {} to {} (UTC)\n\n\
         requests  {}   errors {} ({:.1} %)   cancelled {}\n\
         tokens    {} in, {} out\n\
         cost      ${:.4}\n\
         first token  p50 {}  p95 {}  p99 {}\n\
         whole answer p50 {}  p95 {}  p99 {}\n",
        overview["from"].as_str().unwrap_or("?"),
        overview["to"].as_str().unwrap_or("?"),
        n(&overview["requests"]),
        n(&overview["errors"]),
        usd(&overview["error_rate"]) * 100.0,
        n(&overview["cancelled"]),
        n(&overview["input_tokens"]),
        n(&overview["output_tokens"]),
        usd(&overview["cost_usd"]),
        ms(&overview["ttft_ms"]["p50"]),
        ms(&overview["ttft_ms"]["p95"]),
        ms(&overview["ttft_ms"]["p99"]),
        ms(&overview["latency_ms"]["p50"]),
        ms(&overview["latency_ms"]["p95"]),
        ms(&overview["latency_ms"]["p99"]),
    );
    let points: Vec<&Value> = (series["points"].as_array().into_iter().flatten())
        .filter(|p| n(&p["requests"]) > 0)
        .collect();
    if !points.is_empty() {
        out.push_str(&format!(
            "\n{:<22} {:>8} {:>7} {:>10} {:>10} {:>10}\n",
            "bucket", "requests", "errors", "in", "out", "cost"
        ));
        for p in points {
            out.push_str(&format!(
                "{:<22} {:>8} {:>7} {:>10} {:>10} {:>10.4}\n",
                p["start"].as_str().unwrap_or("?"),
                n(&p["requests"]),
                n(&p["errors"]),
                n(&p["input_tokens"]),
                n(&p["output_tokens"]),
                usd(&p["cost_usd"]),
            ));
        }
    }
    let models = latency["items"].as_array().into_iter().flatten();
    for (i, m) in models.enumerate() {
        if i == 0 {
            out.push_str(
                "\nmodel                          requests  first token p50/p95  whole p50/p95\n",
            );
        }
        let name = format!(
            "{}:{}",
            m["provider"].as_str().unwrap_or("?"),
            m["model"].as_str().unwrap_or("?")
        );
        out.push_str(&format!(
            "{name:<30} {:>9}  {:>8} / {:<8}  {:>8} / {}\n",
            n(&m["requests"]),
            ms(&m["ttft_ms"]["p50"]),
            ms(&m["ttft_ms"]["p95"]),
            ms(&m["latency_ms"]["p50"]),
            ms(&m["latency_ms"]["p95"]),
        ));
    }
    out
}

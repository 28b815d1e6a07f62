//! `tributary kmeans FILE… --suggest-k 2..12`: which k the events suggest. A uniform sample of
//! the files' events (reservoir sampling, `--sample` of them, seeded) is projected as the stream
//! projects it, clustered for each k (`processors::kmeans::suggest`) and printed as a table of
//! the sum of squares and the silhouette per k, with the suggestion and the rule that chose it.

use std::process::ExitCode;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tributary_processors::kmeans::Projection;
use tributary_processors::kmeans::suggest::{Suggestion, suggest_k};
use tributary_processors::mobile_kmeans::ProjectionMode;

use super::kmeans::read_events;
use tributary_sources::mobile_input::InputSettings;

use crate::cli::{KRange, KmeansArgs};

/// Silhouettes are computed on at most this many of the sampled points (O(n²) each).
const SILHOUETTE_POINTS: usize = 2000;

pub fn run(args: &KmeansArgs, input: &InputSettings, range: KRange) -> anyhow::Result<ExitCode> {
    let capacity = args.sample as usize;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut sample: Vec<[f64; 2]> = Vec::with_capacity(capacity.min(1 << 20));
    let mut seen = 0u64;
    let reading = read_events(args, input, |position| {
        seen += 1;
        // Algorithm R: the n-th event replaces a random one of the sample with probability
        // capacity / n, so every event is equally likely to be in it.
        if sample.len() < capacity {
            sample.push(position);
        } else {
            let slot = rng.random_range(0..seen);
            if (slot as usize) < capacity {
                sample[slot as usize] = position;
            }
        }
        Ok(())
    })?;
    let projection = match args.projection {
        ProjectionMode::None => Some(Projection::None),
        ProjectionMode::Km => Projection::centred_on(sample.iter().copied()),
    };
    let Some(projection) = projection else {
        eprintln!("{} events: nothing to cluster", reading.events);
        return Ok(ExitCode::from(3));
    };
    let points: Vec<f64> = sample.iter().flat_map(|p| projection.forward(p[0], p[1])).collect();
    let suggestion = suggest_k(&points, 2, range.from..=range.to, args.seed, SILHOUETTE_POINTS);
    let unit = if matches!(projection, Projection::None) { "deg²" } else { "km²" };
    print!("{}", table(&suggestion, unit));
    eprintln!(
        "{} events ({} sampled), {} dead letters, {} unreadable files",
        reading.events, suggestion.points, reading.dead, reading.unreadable
    );
    Ok(reading.exit_code())
}

/// The candidates as a table, then the suggestion and its rule.
fn table(s: &Suggestion, unit: &str) -> String {
    let mut out = format!(
        "{:>4}  {:>22}  {:>10}  {:>10}\n",
        "k",
        format!("sum of squares ({unit})"),
        "silhouette",
        "iterations"
    );
    for c in &s.candidates {
        let silhouette = c.silhouette.map_or("—".to_string(), |v| format!("{v:.4}"));
        let marker = if Some(c.k) == s.suggested { "  ← suggested" } else { "" };
        out.push_str(&format!(
            "{:>4}  {:>22.1}  {silhouette:>10}  {:>10}{marker}\n",
            c.k, c.sum_of_squares, c.iterations
        ));
    }
    match s.suggested {
        Some(k) => out.push_str(&format!(
            "suggested k = {k}: {} — k-means on {} events, silhouettes on {} of them\n",
            s.rule, s.points, s.silhouette_points
        )),
        None => out.push_str(&format!("no suggestion: too few distinct events ({}) for these k\n", s.points)),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_processors::kmeans::suggest::Candidate;

    #[test]
    fn the_table_marks_the_suggestion_and_states_the_rule() {
        let s = Suggestion {
            points: 100,
            silhouette_points: 50,
            candidates: vec![
                Candidate { k: 2, sum_of_squares: 1500.25, silhouette: Some(0.41), iterations: 4 },
                Candidate { k: 3, sum_of_squares: 300.0, silhouette: Some(0.72), iterations: 6 },
                Candidate { k: 4, sum_of_squares: 280.0, silhouette: None, iterations: 2 },
            ],
            suggested: Some(3),
            rule: tributary_processors::kmeans::suggest::RULE,
        };
        let t = table(&s, "km²");
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].contains("sum of squares (km²)") && lines[0].contains("silhouette"));
        assert!(lines[2].ends_with("← suggested") && lines[2].contains("0.7200"), "{t}");
        assert!(lines[3].contains('—'));
        assert!(
            lines[4].starts_with("suggested k = 3: the smallest k whose silhouette is within 0.01"),
            "{t}"
        );
    }
}

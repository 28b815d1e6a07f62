use std::collections::BTreeMap;

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Date32Type, Float64Type, Int64Type};
use tributary_schema::markets::{CovidDaily, PriceBar};

use super::*;
use crate::test_support::{bar, date, row};
use crate::views;

/// `series, date → (c7, g_cases, cases_per_100k, population)` from `series_daily`.
type SeriesRows = BTreeMap<(String, NaiveDate), (Option<f64>, Option<f64>, Option<f64>, Option<i64>)>;

async fn series_daily(engine: &Engine) -> SeriesRows {
    let batches = engine
        .sql("SELECT series, date, c7, g_cases, cases_per_100k, population FROM series_daily")
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for b in batches {
        let series =
            datafusion::arrow::compute::cast(b.column(0), &datafusion::arrow::datatypes::DataType::Utf8)
                .unwrap();
        let series = series.as_string::<i32>();
        let dates = b.column(1).as_primitive::<Date32Type>();
        let (c7, g, per) = (
            b.column(2).as_primitive::<Float64Type>(),
            b.column(3).as_primitive::<Float64Type>(),
            b.column(4).as_primitive::<Float64Type>(),
        );
        let pop = b.column(5).as_primitive::<Int64Type>();
        let get = |a: &datafusion::arrow::array::Float64Array, i| (!a.is_null(i)).then(|| a.value(i));
        for i in 0..b.num_rows() {
            let d = NaiveDate::from_num_days_from_ce_opt(dates.value(i) + 719_163).unwrap();
            out.insert(
                (series.value(i).to_string(), d),
                (get(c7, i), get(g, i), get(per, i), (!pop.is_null(i)).then(|| pop.value(i))),
            );
        }
    }
    out
}

async fn engine_with(covid: Vec<CovidDaily>, prices: Vec<PriceBar>) -> Engine {
    let lake = crate::test_support::lake_with(covid, prices).await;
    Engine::new(&lake, views::load(None).unwrap()).await.unwrap()
}

#[tokio::test]
async fn seven_day_averages_growth_and_aggregates_follow_the_definitions() {
    let mut covid = Vec::new();
    // Austria (EU-27, Europe): 1, 2, …, 9 on 9 consecutive days; population 1,000,000.
    for (i, cases) in (1..=9).enumerate() {
        covid.push(row(
            "AT",
            "Europe",
            date(2020, 3, 1) + chrono::Days::new(i as u64),
            cases,
            Some(1_000_000),
        ));
    }
    // Japan (Asia): days 1–3, a missing day 4, then days 5–12 with 10 cases each.
    for day in (1..=3).chain(5..=12) {
        covid.push(row("JP", "Asia", date(2020, 3, day), 10, Some(500_000)));
    }
    let engine = engine_with(covid, vec![]).await;
    let s = series_daily(&engine).await;
    let at = |d| s[&("AT".to_string(), date(2020, 3, d))];

    assert_eq!(at(6).0, None, "6 days are not a week");
    assert_eq!(at(7).0, Some(4.0), "mean of 1..=7");
    assert_eq!(at(7).1, None, "c7 of the day before does not exist");
    assert_eq!(at(8).0, Some(5.0));
    assert!((at(8).1.unwrap() - (6.0f64 / 5.0).ln()).abs() < 1e-15, "g = ln((5 + 1) / (4 + 1))");
    assert_eq!(at(9).2, Some(9.0 / 1_000_000.0 * 100_000.0));

    // The missing day keeps Japan's c7 NULL until 7 consecutive days exist again.
    let jp = |d| s[&("JP".to_string(), date(2020, 3, d))].0;
    assert_eq!((jp(10), jp(11)), (None, Some(10.0)));

    // World: both countries on a date; EU-27: only Austria; continents by continentExp.
    let world = s[&("WORLD".to_string(), date(2020, 3, 5))];
    assert_eq!(world.3, Some(1_500_000), "population: the members with a row that day");
    assert_eq!(world.2, Some((5.0 + 10.0) / 1_500_000.0 * 100_000.0));
    let world_day4 = s[&("WORLD".to_string(), date(2020, 3, 4))];
    assert_eq!(world_day4.3, Some(1_000_000), "Japan has no row on the 4th");
    assert_eq!(s[&("EU27".to_string(), date(2020, 3, 9))], at(9));
    assert!(s.contains_key(&("CONTINENT:Asia".to_string(), date(2020, 3, 12))));
    assert!(!s.contains_key(&("EU27".to_string(), date(2020, 3, 12))), "no member has a row");
}

#[tokio::test]
async fn growth_is_null_where_an_average_plus_one_is_not_positive() {
    // Corrections: a week of −2 per day makes c7 = −2, so c7 + 1 = −1 ≤ 0.
    let covid: Vec<_> =
        (0..8).map(|i| row("FR", "Europe", date(2020, 6, 1) + chrono::Days::new(i), -2, Some(100))).collect();
    let engine = engine_with(covid, vec![]).await;
    let s = series_daily(&engine).await;
    let fr = s[&("FR".to_string(), date(2020, 6, 8))];
    assert_eq!((fr.0, fr.1), (Some(-2.0), None));
}

#[tokio::test]
async fn log_returns_alignment_and_the_reference_tables() {
    let covid = vec![
        row("DE", "Europe", date(2020, 3, 13), 100, Some(83_000_000)),
        row("DE", "Europe", date(2020, 3, 14), 120, Some(83_000_000)),
        row("DE", "Europe", date(2020, 3, 16), 150, Some(83_000_000)),
    ];
    let prices = vec![bar(date(2020, 3, 13), Some(9000.0), 9232.08), bar(date(2020, 3, 16), None, 8742.25)];
    let engine = engine_with(covid, prices).await;

    let aligned = engine.compute("aligned_daily").await.unwrap();
    // Trading days × series with a row that day: DE, WORLD, CONTINENT:Europe and EU27, on the
    // 13th and the 16th (the 14th is a Saturday: no trading day).
    assert_eq!(aligned.rows, 8);
    let r =
        engine.sql("SELECT log_return FROM aligned_daily WHERE series = 'DE' ORDER BY date").await.unwrap();
    let returns = r[0].column(0).as_primitive::<Float64Type>();
    assert!(returns.is_null(0), "no return on the first trading day");
    assert!((returns.value(1) - (8742.25f64 / 9232.08).ln()).abs() < 1e-15);

    let covid_ref =
        engine.sql("SELECT cases_prev, cases_change FROM reference_covid ORDER BY date").await.unwrap();
    let prev = covid_ref[0].column(0).as_primitive::<Int64Type>();
    let change = covid_ref[0].column(1).as_primitive::<Float64Type>();
    assert!(prev.is_null(0) && prev.value(1) == 100 && prev.is_null(2), "the 15th is missing");
    assert!((change.value(1) - 0.2).abs() < 1e-15);

    let prices_ref = engine.sql("SELECT intraday_diff FROM reference_prices ORDER BY date").await.unwrap();
    let diff = prices_ref[0].column(0).as_primitive::<Float64Type>();
    assert!((diff.value(0) - 232.08).abs() < 1e-9 && diff.is_null(1));
}

#[tokio::test]
async fn a_broken_user_view_names_itself_and_its_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.sql"), "SELECT no_such_column FROM prices").unwrap();
    let lake = Lake::open("memory://").unwrap();
    let engine = Engine::new(&lake, views::load(Some(dir.path())).unwrap()).await.unwrap();
    let err = engine.compute("broken").await.err().unwrap().to_string();
    assert!(
        err.starts_with("view broken (") && err.contains("broken.sql") && err.contains("no_such_column"),
        "{err}"
    );
}

/// The final ECDC file through `series_daily`, against the definitions computed here row by row
/// for every country, the world and the EU-27 (SPEC: agreement to 1e-9).
#[tokio::test]
async fn series_daily_on_the_real_ecdc_file_matches_an_independent_computation() {
    let Some(content) = tributary_test_data::read("covid/ecdc_casedistribution_daily_final_2020-12-14.csv")
    else {
        return;
    };
    let parsed = tributary_sources::formats::parse(
        &content,
        "final",
        &tributary_sources::formats::ReadOptions::new(None, ""),
        0,
    )
    .unwrap();
    let tributary_sources::formats::Rows::CovidDaily(rows) = parsed.rows else { panic!() };
    const EU27: [&str; 27] = [
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "EL", "HU", "IE", "IT", "LV", "LT",
        "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
    ];
    // series → date → (cases, population)
    let mut daily: BTreeMap<String, BTreeMap<NaiveDate, (i64, Option<i64>)>> = BTreeMap::new();
    for r in &rows {
        let mut add = |series: &str| {
            let e = daily.entry(series.to_string()).or_default().entry(r.date).or_insert((0, None));
            e.0 += r.cases;
            if let Some(p) = r.population {
                e.1 = Some(e.1.unwrap_or(0) + p);
            }
        };
        add(&r.geo_id);
        add("WORLD");
        if EU27.contains(&r.geo_id.as_str()) {
            add("EU27");
        }
    }
    let engine = engine_with(rows, vec![]).await;
    let sql = series_daily(&engine).await;
    let mut checked = 0;
    for (series, days) in &daily {
        for (d, (cases, population)) in days {
            let window: Vec<i64> =
                (0..7).filter_map(|k| days.get(&(*d - chrono::Days::new(k))).map(|v| v.0)).collect();
            let c7 = (window.len() == 7).then(|| window.iter().sum::<i64>() as f64 / 7.0);
            let prev: Vec<i64> =
                (1..8).filter_map(|k| days.get(&(*d - chrono::Days::new(k))).map(|v| v.0)).collect();
            let c7_prev = (prev.len() == 7).then(|| prev.iter().sum::<i64>() as f64 / 7.0);
            let g = match (c7, c7_prev) {
                (Some(a), Some(b)) if a + 1.0 > 0.0 && b + 1.0 > 0.0 => Some(((a + 1.0) / (b + 1.0)).ln()),
                _ => None,
            };
            let per_100k = population.map(|p| *cases as f64 / p as f64 * 100_000.0);
            let got = sql[&(series.clone(), *d)];
            let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(1.0),
                (a, b) => a.is_none() && b.is_none(),
            };
            assert!(close(got.0, c7), "{series} {d}: c7 {:?} vs {c7:?}", got.0);
            assert!(close(got.1, g), "{series} {d}: g {:?} vs {g:?}", got.1);
            assert!(close(got.2, per_100k), "{series} {d}: per 100k {:?} vs {per_100k:?}", got.2);
            checked += 1;
        }
    }
    assert_eq!(checked, 61_900 + daily["WORLD"].len() + daily["EU27"].len());
}

#[tokio::test]
async fn correlations_peak_at_the_lag_where_covid_leads_the_market() {
    // Cases that wander; the "index" follows their 7-day average three days later.
    let start = date(2020, 3, 1);
    // A linear congruential sequence: no period within 80 days, so no other lag lines up.
    let mut state = 12_345u64;
    let cases: Vec<i64> = (0..80)
        .map(|_| {
            state = (state * 1_103_515_245 + 12_345) % (1 << 31);
            100 + (state % 500) as i64
        })
        .collect();
    let covid: Vec<_> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| row("IT", "Europe", start + chrono::Days::new(i as u64), *c, Some(1000)))
        .collect();
    let c7 = |i: usize| (i >= 6).then(|| cases[i - 6..=i].iter().sum::<i64>() as f64 / 7.0);
    let prices: Vec<_> = (9..80usize)
        .map(|i| bar(start + chrono::Days::new(i as u64), None, 1000.0 + c7(i - 3).unwrap()))
        .collect();
    let engine = engine_with(covid, prices).await;
    let got = engine
        .sql("SELECT lag, n, pearson, spearman, pearson_p, reason FROM correlations WHERE series = 'IT' AND measure = 'cases' AND kind = 'levels' ORDER BY lag")
        .await
        .unwrap();
    let mut by_lag = BTreeMap::new();
    for b in &got {
        let (lag, n) = (
            b.column(0).as_primitive::<datafusion::arrow::datatypes::Int32Type>(),
            b.column(1).as_primitive::<Int64Type>(),
        );
        let (p, s, pp) = (
            b.column(2).as_primitive::<Float64Type>(),
            b.column(3).as_primitive::<Float64Type>(),
            b.column(4).as_primitive::<Float64Type>(),
        );
        for i in 0..b.num_rows() {
            by_lag.insert(lag.value(i), (n.value(i), p.value(i), s.value(i), pp.value(i)));
        }
    }
    assert_eq!(by_lag.len(), 57, "lags −28..=28");
    let (n, pearson, spearman, p) = by_lag[&3];
    assert_eq!(n, 71, "every trading day has c7 three days earlier");
    assert!((pearson - 1.0).abs() < 1e-12 && (spearman - 1.0).abs() < 1e-12 && p < 1e-12, "{:?}", by_lag[&3]);
    for (lag, (_, r, _, _)) in &by_lag {
        if *lag != 3 {
            assert!(*r < 1.0 - 1e-9, "lag {lag}: r = {r}, only lag 3 is perfect");
        }
    }
    // The same pairs through the statistics directly.
    let xs: Vec<f64> = (9..80usize).map(|i| 1000.0 + c7(i - 3).unwrap()).collect();
    let ys: Vec<f64> = (9..80usize).filter_map(|i| c7(i - 5)).collect();
    let direct = crate::stats::pearson(&xs[xs.len() - ys.len()..], &ys).unwrap();
    assert!((by_lag[&5].1 - direct.coefficient).abs() < 1e-12);
}

#[tokio::test]
async fn undefined_correlations_are_null_with_their_reason() {
    let start = date(2020, 3, 1);
    // A constant country: its c7 never varies. Two trading days only for the market.
    let covid: Vec<_> =
        (0..20u64).map(|i| row("SM", "Europe", start + chrono::Days::new(i), 4, Some(1))).collect();
    let prices = vec![
        bar(date(2020, 3, 18), None, 10.0),
        bar(date(2020, 3, 19), None, 11.0),
        bar(date(2020, 3, 20), None, 12.5),
    ];
    let engine = engine_with(covid, prices).await;
    let got = engine
        .sql("SELECT lag, n, pearson, reason FROM correlations WHERE series = 'SM' AND measure = 'cases' AND kind = 'levels' AND lag IN (0, 12, 28) ORDER BY lag")
        .await
        .unwrap();
    let b = &got[0];
    assert_eq!(b.num_rows(), 2, "lag 28: no trading day has COVID data 28 days before, so no row");
    let (n, reasons) = (b.column(1).as_primitive::<Int64Type>(), b.column(3).as_string::<i32>());
    assert!(b.column(2).is_null(0) && b.column(2).is_null(1));
    assert_eq!((n.value(0), reasons.value(0)), (3, "zero variance"), "lag 0: 3 pairs, c7 constant");
    assert_eq!((n.value(1), reasons.value(1)), (2, "n = 2 < 3"), "lag 12: c7 exists from the 7th only");
}

fn real_rows(name: &str) -> Option<tributary_sources::formats::Rows> {
    let content = tributary_test_data::read(name)?;
    Some(
        tributary_sources::formats::parse(
            &content,
            name,
            &tributary_sources::formats::ReadOptions::new(None, "^GDAXI"),
            0,
        )
        .unwrap()
        .rows,
    )
}

async fn upsert(lake: &Lake, rows: tributary_sources::formats::Rows) {
    use tributary_sources::formats::Rows;
    match rows {
        Rows::CovidDaily(r) => lake.upsert(r).await.map(|_| ()),
        Rows::CovidWeekly(r) => lake.upsert(r).await.map(|_| ()),
        Rows::Prices(r) => lake.upsert(r).await.map(|_| ()),
    }
    .unwrap();
}

/// Every published view, each as one batch.
async fn published_views(lake: &Lake) -> Vec<(String, RecordBatch)> {
    let engine = Engine::new(lake, views::load(None).unwrap()).await.unwrap();
    let mut out = Vec::new();
    for r in engine.compute_all().await.unwrap() {
        if engine.views().iter().any(|v| v.name == r.name && v.published) {
            let one = datafusion::arrow::compute::concat_batches(&r.schema, &r.batches).unwrap();
            out.push((r.name, one));
        }
    }
    out
}

/// SPEC's idempotence: an older snapshot, then the newer, then the newer again, give the same
/// views as the newer alone (ECDC revised past days; later imports win).
#[tokio::test]
async fn an_older_then_a_newer_snapshot_give_the_views_of_the_newer_alone() {
    let (Some(old), Some(new), Some(dax)) = (
        real_rows("covid/ecdc_casedistribution_2020-04-23.csv"),
        real_rows("covid/ecdc_casedistribution_daily_final_2020-12-14.csv"),
        real_rows("markets/DAX_GDAXI_daily_1988-2022_yahoo.csv"),
    ) else {
        return;
    };
    let both = Lake::open("memory://").unwrap();
    upsert(&both, old).await;
    upsert(&both, new.clone()).await;
    upsert(&both, new.clone()).await;
    upsert(&both, dax.clone()).await;
    let alone = Lake::open("memory://").unwrap();
    upsert(&alone, new).await;
    upsert(&alone, dax).await;
    let (a, b) = (published_views(&both).await, published_views(&alone).await);
    assert_eq!(a.len(), 7);
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x.num_rows() > 0, "{name} is empty");
        assert_eq!(x, y, "{name} differs");
    }
}

/// The correlation views on the real files against the statistics computed here from the
/// aligned pairs, for a country, a continent and the world, at several lags and windows.
#[tokio::test]
async fn correlations_on_the_real_files_match_the_pairs_computed_directly() {
    let (Some(covid), Some(dax)) = (
        real_rows("covid/ecdc_casedistribution_daily_final_2020-12-14.csv"),
        real_rows("markets/DAX_GDAXI_daily_1988-2022_yahoo.csv"),
    ) else {
        return;
    };
    let lake = Lake::open("memory://").unwrap();
    upsert(&lake, covid).await;
    upsert(&lake, dax).await;
    let engine = Engine::new(&lake, views::load(None).unwrap()).await.unwrap();
    // day → (close, log return) and (series, day) → (c7, g_cases)
    let f64s = |a: &dyn Array, i: usize| (!a.is_null(i)).then(|| a.as_primitive::<Float64Type>().value(i));
    let mut market: BTreeMap<i32, (f64, Option<f64>)> = BTreeMap::new();
    for b in engine.sql("SELECT day, close, log_return FROM trading_days").await.unwrap() {
        let day = b.column(0).as_primitive::<datafusion::arrow::datatypes::Int32Type>();
        for i in 0..b.num_rows() {
            market.insert(day.value(i), (f64s(b.column(1), i).unwrap(), f64s(b.column(2), i)));
        }
    }
    let mut covid: BTreeMap<(String, i32), (Option<f64>, Option<f64>)> = BTreeMap::new();
    for b in engine.sql("SELECT series, day, c7, g_cases FROM series_daily WHERE series IN ('IT', 'CONTINENT:Asia', 'WORLD')").await.unwrap() {
        let series = datafusion::arrow::compute::cast(b.column(0), &datafusion::arrow::datatypes::DataType::Utf8).unwrap();
        let (series, day) = (series.as_string::<i32>(), b.column(1).as_primitive::<datafusion::arrow::datatypes::Int32Type>());
        for i in 0..b.num_rows() {
            covid.insert((series.value(i).to_string(), day.value(i)), (f64s(b.column(2), i), f64s(b.column(3), i)));
        }
    }
    let view = |sql: String| {
        let engine = &engine;
        async move {
            let b = engine.sql(&sql).await.unwrap();
            let b = &b[0];
            assert_eq!(b.num_rows(), 1, "{sql}");
            (
                b.column(0).as_primitive::<Int64Type>().value(0),
                f64s(b.column(1), 0),
                f64s(b.column(2), 0),
                f64s(b.column(3), 0),
                // n_eff, pearson_p_adj, spearman_p_adj
                [f64s(b.column(4), 0), f64s(b.column(5), 0), f64s(b.column(6), 0)],
            )
        }
    };
    // The adjusted inference of pairs in trading-day order, as the views must compute it.
    let adjusted = |xs: &[f64], ys: &[f64]| {
        let (p, s) = (crate::stats::pearson(xs, ys).unwrap(), crate::stats::spearman(xs, ys).unwrap());
        let a = crate::stats::adjusted(p.coefficient, xs, ys);
        let ranks = (crate::stats::ranks(xs), crate::stats::ranks(ys));
        let s = crate::stats::adjusted(s.coefficient, &ranks.0, &ranks.1);
        [a.n_eff, a.p_value, s.p_value]
    };
    let same = |got: [Option<f64>; 3], want: [f64; 3], what: &str| {
        for (g, w) in got.iter().zip(want) {
            let g = g.unwrap_or_else(|| panic!("{what}: NULL"));
            assert!((g - w).abs() <= 1e-12 * w.abs().max(1.0), "{what}: {got:?} vs {want:?}");
        }
    };
    let mut checked = 0;
    for series in ["IT", "CONTINENT:Asia", "WORLD"] {
        for lag in [-28, -5, 0, 7, 28] {
            for kind in ["levels", "changes"] {
                let (mut xs, mut ys) = (Vec::new(), Vec::new());
                for (day, (close, r)) in &market {
                    let x = if kind == "levels" { Some(*close) } else { *r };
                    let y = covid
                        .get(&(series.to_string(), day - lag))
                        .and_then(|(c7, g)| if kind == "levels" { *c7 } else { *g });
                    if let (Some(x), Some(y)) = (x, y) {
                        xs.push(x);
                        ys.push(y);
                    }
                }
                let (n, pearson, p, spearman, adjusted_got) = view(format!(
                    "SELECT n, pearson, pearson_p, spearman, n_eff, pearson_p_adj, spearman_p_adj FROM correlations WHERE series = '{series}' AND measure = 'cases' AND kind = '{kind}' AND lag = {lag}"
                ))
                .await;
                same(adjusted_got, adjusted(&xs, &ys), &format!("{series} {kind} lag {lag}"));
                let (want_p, want_s) =
                    (crate::stats::pearson(&xs, &ys).unwrap(), crate::stats::spearman(&xs, &ys).unwrap());
                assert_eq!(n as usize, xs.len(), "{series} {kind} lag {lag}");
                assert!((pearson.unwrap() - want_p.coefficient).abs() < 1e-12, "{series} {kind} lag {lag}");
                assert!((p.unwrap() - want_p.p_value).abs() < 1e-12, "{series} {kind} lag {lag}");
                assert!((spearman.unwrap() - want_s.coefficient).abs() < 1e-12, "{series} {kind} lag {lag}");
                checked += 1;
            }
        }
        // Rolling windows at lag 0, levels: the last W trading days ending on a day in autumn.
        let days: Vec<i32> = market.keys().copied().filter(|d| *d <= 18_565).collect(); // 2020-10-30
        for w in [30usize, 60, 90] {
            let window = &days[days.len() - w..];
            let pairs: Vec<(f64, f64)> = window
                .iter()
                .filter_map(|d| Some((market[d].0, covid.get(&(series.to_string(), *d))?.0?)))
                .collect();
            assert_eq!(pairs.len(), w, "{series}: every trading day of the window has c7");
            let (xs, ys): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
            let (n, pearson, _, spearman, adjusted_got) = view(format!(
                "SELECT n, pearson, pearson_p, spearman, n_eff, pearson_p_adj, spearman_p_adj FROM rolling_correlations WHERE series = '{series}' AND measure = 'cases' AND kind = 'levels' AND window_days = {w} AND date = DATE '2020-10-30'"
            ))
            .await;
            same(adjusted_got, adjusted(&xs, &ys), &format!("{series} W={w}"));
            assert_eq!(n as usize, w);
            assert!(
                (pearson.unwrap() - crate::stats::pearson(&xs, &ys).unwrap().coefficient).abs() < 1e-12,
                "{series} W={w}"
            );
            assert!(
                (spearman.unwrap() - crate::stats::spearman(&xs, &ys).unwrap().coefficient).abs() < 1e-12,
                "{series} W={w}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 3 * 5 * 2 + 3 * 3);
    // The q-values of each published table are Benjamini–Hochberg's over each (measure, kind).
    for (view, family) in
        [("correlations", "measure, kind"), ("rolling_correlations", "measure, kind, window_days")]
    {
        let sql = format!(
            "SELECT {family}, pearson_p_adj, pearson_q, spearman_p_adj, spearman_q FROM {view} ORDER BY {family}"
        );
        let columns = family.split(", ").count();
        let mut families: BTreeMap<String, Vec<[Option<f64>; 4]>> = BTreeMap::new();
        for b in engine.sql(&sql).await.unwrap() {
            let keys: Vec<_> = (0..columns)
                .map(|c| {
                    datafusion::arrow::compute::cast(
                        b.column(c),
                        &datafusion::arrow::datatypes::DataType::Utf8,
                    )
                    .unwrap()
                })
                .collect();
            for i in 0..b.num_rows() {
                let key: Vec<&str> = keys.iter().map(|k| k.as_string::<i32>().value(i)).collect();
                let row = [0, 1, 2, 3].map(|c| f64s(b.column(columns + c), i));
                families.entry(key.join("/")).or_default().push(row);
            }
        }
        assert_eq!(families.len(), if view == "correlations" { 4 } else { 12 }, "{view}");
        for (family, rows) in &families {
            for (p, q) in [(0, 1), (2, 3)] {
                let ps: Vec<Option<f64>> = rows.iter().map(|r| r[p]).collect();
                let want = crate::stats::benjamini_hochberg(&ps);
                let got: Vec<Option<f64>> = rows.iter().map(|r| r[q]).collect();
                assert_eq!(got, want, "{view} {family}");
                assert!(ps.iter().flatten().count() > 100, "{view} {family}: {} tests", ps.len());
            }
        }
    }
}

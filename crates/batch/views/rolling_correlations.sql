-- rolling_correlations: for each trading day d, Pearson and Spearman (n, two-sided p-values) over
-- the last W trading days ending at d, W = 30, 60 and 90, at lag 0 (SPEC "Markets × COVID
-- analysis"): levels (close, c7) and changes (r, g) for cases and deaths. A window is reported
-- only when all W pairs exist; undefined statistics (a constant window) are NULL with the reason.
--
-- As in `correlations`, each window also has its autocorrelation-adjusted inference (n_eff,
-- pearson_p_adj, spearman_n_eff, spearman_p_adj, over the window's W pairs in trading-day order)
-- and Benjamini–Hochberg q-values of the adjusted p-values per (measure, kind, window_days),
-- across price series, COVID series and window ends (pearson_q, spearman_q).
--
-- index: series, measure, kind, window_days   (the columns readers filter on; the serving store indexes them)
WITH covid_range AS (
    SELECT MIN(day) AS first_day, MAX(day) AS last_day FROM series_daily
),
-- Trading days before the first COVID date cannot complete a window.
days AS (
    SELECT t.symbol, t.date, t.day, t.close, t.log_return
    FROM trading_days t
    JOIN covid_range r ON t.day BETWEEN r.first_day AND r.last_day
),
series AS (
    SELECT DISTINCT series, series_name FROM series_daily
),
-- Every trading day for every COVID series, with the series' values where it has them, so that
-- a window of W rows is W consecutive trading days.
grid AS (
    SELECT d.symbol, s.series, s.series_name, d.date, d.close, d.log_return,
           v.c7, v.d7, v.g_cases, v.g_deaths
    FROM days d
    CROSS JOIN series s
    LEFT JOIN series_daily v ON v.series = s.series AND v.day = d.day
),
windows AS (
    SELECT symbol, series, series_name, date,
           rolling_correlation(close, c7, 30) OVER w AS levels_cases_30,
           rolling_correlation(close, d7, 30) OVER w AS levels_deaths_30,
           rolling_correlation(log_return, g_cases, 30) OVER w AS changes_cases_30,
           rolling_correlation(log_return, g_deaths, 30) OVER w AS changes_deaths_30,
           rolling_correlation(close, c7, 60) OVER w AS levels_cases_60,
           rolling_correlation(close, d7, 60) OVER w AS levels_deaths_60,
           rolling_correlation(log_return, g_cases, 60) OVER w AS changes_cases_60,
           rolling_correlation(log_return, g_deaths, 60) OVER w AS changes_deaths_60,
           rolling_correlation(close, c7, 90) OVER w AS levels_cases_90,
           rolling_correlation(close, d7, 90) OVER w AS levels_deaths_90,
           rolling_correlation(log_return, g_cases, 90) OVER w AS changes_cases_90,
           rolling_correlation(log_return, g_deaths, 90) OVER w AS changes_deaths_90
    FROM grid
    WINDOW w AS (PARTITION BY symbol, series ORDER BY date)
),
measures AS (
    SELECT symbol, series, series_name, date,
           unnest(make_array(
               named_struct('measure', 'cases', 'kind', 'levels', 'window', 30, 'c', levels_cases_30),
               named_struct('measure', 'deaths', 'kind', 'levels', 'window', 30, 'c', levels_deaths_30),
               named_struct('measure', 'cases', 'kind', 'changes', 'window', 30, 'c', changes_cases_30),
               named_struct('measure', 'deaths', 'kind', 'changes', 'window', 30, 'c', changes_deaths_30),
               named_struct('measure', 'cases', 'kind', 'levels', 'window', 60, 'c', levels_cases_60),
               named_struct('measure', 'deaths', 'kind', 'levels', 'window', 60, 'c', levels_deaths_60),
               named_struct('measure', 'cases', 'kind', 'changes', 'window', 60, 'c', changes_cases_60),
               named_struct('measure', 'deaths', 'kind', 'changes', 'window', 60, 'c', changes_deaths_60),
               named_struct('measure', 'cases', 'kind', 'levels', 'window', 90, 'c', levels_cases_90),
               named_struct('measure', 'deaths', 'kind', 'levels', 'window', 90, 'c', levels_deaths_90),
               named_struct('measure', 'cases', 'kind', 'changes', 'window', 90, 'c', changes_cases_90),
               named_struct('measure', 'deaths', 'kind', 'changes', 'window', 90, 'c', changes_deaths_90)
           )) AS m
    FROM windows
),
results AS (
    SELECT symbol, series, series_name, m['measure'] AS measure, m['kind'] AS kind,
           CAST(m['window'] AS INT) AS window_days, date,
           m['c']['n'] AS n, m['c']['pearson'] AS pearson, m['c']['pearson_p'] AS pearson_p,
           m['c']['spearman'] AS spearman, m['c']['spearman_p'] AS spearman_p, m['c']['reason'] AS reason,
           m['c']['n_eff'] AS n_eff, m['c']['pearson_p_adj'] AS pearson_p_adj,
           m['c']['spearman_n_eff'] AS spearman_n_eff, m['c']['spearman_p_adj'] AS spearman_p_adj
    FROM measures
    WHERE m['c'] IS NOT NULL
)
SELECT *,
       benjamini_hochberg(pearson_p_adj) OVER (PARTITION BY measure, kind, window_days) AS pearson_q,
       benjamini_hochberg(spearman_p_adj) OVER (PARTITION BY measure, kind, window_days) AS spearman_q
FROM results

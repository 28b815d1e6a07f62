-- correlations: per price series, COVID series, measure and lag, Pearson and Spearman with n, the
-- two-sided p-values and, where undefined, the reason (SPEC "Markets × COVID analysis").
--
-- Beside the plain p-values (as SciPy computes them, assuming independent pairs), the inference
-- that holds for time series: n_eff, the effective number of pairs given both series'
-- autocorrelation (spearman_n_eff: the same on the ranks), the p-values with it (pearson_p_adj,
-- spearman_p_adj), and Benjamini–Hochberg q-values of those over the table per (measure, kind),
-- across price series, COVID series and lags (pearson_q, spearman_q). A result is significant
-- at a 5 % false discovery rate where its q < 0.05.
--
--   kind = 'levels':  (close(d), c7(d − lag))           measure 'cases', or d7 for 'deaths'
--   kind = 'changes': (r(d), g(d − lag))                 log return vs growth of the 7-day average
--   lag > 0: COVID leads the market by lag days; d runs over trading days where both are present.
--   A lag at which no trading day has the series' data has no row; n < 3 or a constant series
--   give NULL statistics with the reason.
--
-- index: series, measure, kind   (the columns readers filter on; the serving store indexes them)
WITH lags AS (
    SELECT CAST(value AS INT) AS lag FROM generate_series(-28, 28)
),
-- Only trading days within 28 days of the COVID data can pair with it at some lag.
covid_range AS (
    SELECT MIN(day) AS first_day, MAX(day) AS last_day FROM series_daily
),
days AS (
    SELECT t.symbol, t.day, t.close, t.log_return
    FROM trading_days t
    JOIN covid_range r ON t.day BETWEEN r.first_day - 28 AND r.last_day + 28
),
-- The four measures of a (price series, COVID series, lag) in one pass over its pairs.
grouped AS (
    SELECT d.symbol, s.series, s.series_name, l.lag,
           correlation(d.close, s.c7, d.day) AS levels_cases,
           correlation(d.close, s.d7, d.day) AS levels_deaths,
           correlation(d.log_return, s.g_cases, d.day) AS changes_cases,
           correlation(d.log_return, s.g_deaths, d.day) AS changes_deaths
    FROM days d
    CROSS JOIN lags l
    JOIN series_daily s ON s.day = d.day - l.lag
    GROUP BY d.symbol, s.series, s.series_name, l.lag
),
measures AS (
    SELECT symbol, series, series_name, lag,
           unnest(make_array(
               named_struct('measure', 'cases', 'kind', 'levels', 'c', levels_cases),
               named_struct('measure', 'deaths', 'kind', 'levels', 'c', levels_deaths),
               named_struct('measure', 'cases', 'kind', 'changes', 'c', changes_cases),
               named_struct('measure', 'deaths', 'kind', 'changes', 'c', changes_deaths)
           )) AS m
    FROM grouped
),
results AS (
    SELECT symbol, series, series_name, m['measure'] AS measure, m['kind'] AS kind, lag,
           m['c']['n'] AS n, m['c']['pearson'] AS pearson, m['c']['pearson_p'] AS pearson_p,
           m['c']['spearman'] AS spearman, m['c']['spearman_p'] AS spearman_p, m['c']['reason'] AS reason,
           m['c']['n_eff'] AS n_eff, m['c']['pearson_p_adj'] AS pearson_p_adj,
           m['c']['spearman_n_eff'] AS spearman_n_eff, m['c']['spearman_p_adj'] AS spearman_p_adj
    FROM measures
)
SELECT *,
       benjamini_hochberg(pearson_p_adj) OVER (PARTITION BY measure, kind) AS pearson_q,
       benjamini_hochberg(spearman_p_adj) OVER (PARTITION BY measure, kind) AS spearman_q
FROM results

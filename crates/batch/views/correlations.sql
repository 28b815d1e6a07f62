-- correlations: per price series, COVID series, measure and lag, Pearson and Spearman with n, the
-- two-sided p-values and, where undefined, the reason (SPEC "Markets × COVID analysis").
--
--   kind = 'levels':  (close(d), c7(d − lag))           measure 'cases', or d7 for 'deaths'
--   kind = 'changes': (r(d), g(d − lag))                 log return vs growth of the 7-day average
--   lag > 0: COVID leads the market by lag days; d runs over trading days where both are present.
--   A lag at which no trading day has the series' data has no row; n < 3 or a constant series
--   give NULL statistics with the reason.
WITH lags AS (
    SELECT CAST(value AS INT) AS lag FROM generate_series(-28, 28)
),
base AS (
    SELECT t.symbol, s.series, s.series_name, l.lag,
           t.close, t.log_return, s.c7, s.d7, s.g_cases, s.g_deaths
    FROM trading_days t
    CROSS JOIN lags l
    JOIN series_daily s ON s.day = t.day - l.lag
),
pairs AS (
    SELECT symbol, series, series_name, lag, 'cases' AS measure, 'levels' AS kind, close AS x, c7 AS y FROM base
    UNION ALL
    SELECT symbol, series, series_name, lag, 'deaths', 'levels', close, d7 FROM base
    UNION ALL
    SELECT symbol, series, series_name, lag, 'cases', 'changes', log_return, g_cases FROM base
    UNION ALL
    SELECT symbol, series, series_name, lag, 'deaths', 'changes', log_return, g_deaths FROM base
),
grouped AS (
    SELECT symbol, series, series_name, measure, kind, lag, correlation(x, y) AS c
    FROM pairs
    GROUP BY symbol, series, series_name, measure, kind, lag
)
SELECT symbol, series, series_name, measure, kind, lag,
       c['n'] AS n, c['pearson'] AS pearson, c['pearson_p'] AS pearson_p,
       c['spearman'] AS spearman, c['spearman_p'] AS spearman_p, c['reason'] AS reason
FROM grouped

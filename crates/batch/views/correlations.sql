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
-- Every lag of a (price series, COVID series, measure) in one call: at lag L the pairs are
-- (x(d), y(d − L)) over the trading days d where both are present, in trading-day order.
WITH lagged AS (
    SELECT m.symbol, c.series, c.series_name, c.measure, c.kind,
           unnest(lagged_correlations(m.days, m.x, c.days, c.y, -28, 28)) AS c
    FROM market_series m
    JOIN covid_series c ON c.kind = m.kind
),
results AS (
    SELECT symbol, series, series_name, measure, kind, c['lag'] AS lag,
           c['n'] AS n, c['pearson'] AS pearson, c['pearson_p'] AS pearson_p,
           c['spearman'] AS spearman, c['spearman_p'] AS spearman_p, c['reason'] AS reason,
           c['n_eff'] AS n_eff, c['pearson_p_adj'] AS pearson_p_adj,
           c['spearman_n_eff'] AS spearman_n_eff, c['spearman_p_adj'] AS spearman_p_adj
    FROM lagged
)
SELECT *,
       benjamini_hochberg(pearson_p_adj) OVER (PARTITION BY measure, kind) AS pearson_q,
       benjamini_hochberg(spearman_p_adj) OVER (PARTITION BY measure, kind) AS spearman_q
FROM results

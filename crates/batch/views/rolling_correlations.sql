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
-- Every full window of a (price series, COVID series, measure) in one call, for each size: the
-- window ending at trading day d holds d and the W − 1 trading days before it, each with the
-- COVID series' value on the same day.
WITH windows AS (
    SELECT m.symbol, c.series, c.series_name, c.measure, c.kind,
           unnest(rolling_correlations(m.days, m.x, c.days, c.y, make_array(30, 60, 90))) AS c
    FROM market_series m
    JOIN covid_series c ON c.kind = m.kind
),
results AS (
    SELECT symbol, series, series_name, measure, kind, c['window_days'] AS window_days,
           arrow_cast(CAST(c['day'] AS INT), 'Date32') AS date,
           c['n'] AS n, c['pearson'] AS pearson, c['pearson_p'] AS pearson_p,
           c['spearman'] AS spearman, c['spearman_p'] AS spearman_p, c['reason'] AS reason,
           c['n_eff'] AS n_eff, c['pearson_p_adj'] AS pearson_p_adj,
           c['spearman_n_eff'] AS spearman_n_eff, c['spearman_p_adj'] AS spearman_p_adj
    FROM windows
)
SELECT *,
       benjamini_hochberg(pearson_p_adj) OVER (PARTITION BY measure, kind, window_days) AS pearson_q,
       benjamini_hochberg(spearman_p_adj) OVER (PARTITION BY measure, kind, window_days) AS spearman_q
FROM results

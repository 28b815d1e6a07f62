-- market_series: each price series whole, as arrays (days and values element by element, in no
-- particular order: the functions put them in day order), for the functions that
-- correlate two whole series (lagged_correlations, rolling_correlations): its close for
-- kind = 'levels', its log return for kind = 'changes'. Only the trading days within 28 days of
-- the COVID data (the largest lag) can pair with it, so only those are kept.
WITH covid_range AS (
    SELECT MIN(day) AS first_day, MAX(day) AS last_day FROM series_daily
),
days AS (
    SELECT t.symbol, t.day, t.close, t.log_return
    FROM trading_days t
    JOIN covid_range r ON t.day BETWEEN r.first_day - 28 AND r.last_day + 28
)
SELECT symbol, 'levels' AS kind, array_agg(day) AS days, array_agg(close) AS x
FROM days GROUP BY symbol
UNION ALL
SELECT symbol, 'changes', array_agg(day), array_agg(log_return)
FROM days GROUP BY symbol

-- aligned_daily: per trading day and COVID series, the market (close, log return) beside cases
-- and deaths (daily, 7-day average, per 100k) of that calendar date.
--
-- index: series, date   (the columns readers filter on; the serving store indexes them)
SELECT t.symbol, t.date, t.close, t.log_return,
       s.series, s.series_name, s.kind,
       s.cases, s.deaths, s.c7, s.d7, s.g_cases, s.g_deaths,
       s.cases_per_100k, s.deaths_per_100k, s.c7_per_100k, s.d7_per_100k
FROM trading_days t
JOIN series_daily s ON s.date = t.date

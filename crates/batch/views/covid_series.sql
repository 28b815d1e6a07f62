-- covid_series: each COVID series whole, as arrays in calendar order, per measure, for the
-- functions that correlate two whole series (lagged_correlations, rolling_correlations): the
-- 7-day average for kind = 'levels', its growth for kind = 'changes' (NULL where undefined).
SELECT series, series_name, 'cases' AS measure, 'levels' AS kind,
       array_agg(day ORDER BY day) AS days, array_agg(c7 ORDER BY day) AS y
FROM series_daily GROUP BY series, series_name
UNION ALL
SELECT series, series_name, 'deaths', 'levels', array_agg(day ORDER BY day), array_agg(d7 ORDER BY day)
FROM series_daily GROUP BY series, series_name
UNION ALL
SELECT series, series_name, 'cases', 'changes', array_agg(day ORDER BY day), array_agg(g_cases ORDER BY day)
FROM series_daily GROUP BY series, series_name
UNION ALL
SELECT series, series_name, 'deaths', 'changes', array_agg(day ORDER BY day), array_agg(g_deaths ORDER BY day)
FROM series_daily GROUP BY series, series_name

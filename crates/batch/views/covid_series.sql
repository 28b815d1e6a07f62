-- covid_series: each COVID series whole, as arrays (days and values element by element, in no
-- particular order: the functions put them in day order), per measure, for the
-- functions that correlate two whole series (lagged_correlations, rolling_correlations): the
-- 7-day average for kind = 'levels', its growth for kind = 'changes' (NULL where undefined).
SELECT series, series_name, 'cases' AS measure, 'levels' AS kind,
       array_agg(day) AS days, array_agg(c7) AS y
FROM series_daily GROUP BY series, series_name
UNION ALL
SELECT series, series_name, 'deaths', 'levels', array_agg(day), array_agg(d7)
FROM series_daily GROUP BY series, series_name
UNION ALL
SELECT series, series_name, 'cases', 'changes', array_agg(day), array_agg(g_cases)
FROM series_daily GROUP BY series, series_name
UNION ALL
SELECT series, series_name, 'deaths', 'changes', array_agg(day), array_agg(g_deaths)
FROM series_daily GROUP BY series, series_name

-- reference_covid: the reference design's table, per country and day: cases and deaths, the
-- previous day's (cases_prev, dead_prev) and the relative day-over-day change (NULL where the
-- previous day is missing or was 0).
--
-- index: geo_id, date   (the columns readers filter on; the serving store indexes them)
SELECT geo_id, country, date, cases, deaths,
       cases_prev, dead_prev,
       CASE WHEN cases_prev <> 0 THEN CAST(cases - cases_prev AS DOUBLE) / cases_prev END AS cases_change,
       CASE WHEN dead_prev <> 0 THEN CAST(deaths - dead_prev AS DOUBLE) / dead_prev END AS deaths_change
FROM (
    SELECT geo_id, country, date, cases, deaths,
           CASE WHEN LAG(date) OVER w = date - INTERVAL '1' DAY THEN LAG(cases) OVER w END AS cases_prev,
           CASE WHEN LAG(date) OVER w = date - INTERVAL '1' DAY THEN LAG(deaths) OVER w END AS dead_prev
    FROM covid_daily
    WINDOW w AS (PARTITION BY geo_id ORDER BY date)
)

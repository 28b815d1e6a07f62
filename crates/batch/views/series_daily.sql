-- series_daily: ECDC daily cases and deaths per country and per aggregate, with the derived
-- measures of SPEC "Markets × COVID analysis". One row per series and calendar date on which
-- the series has data (an aggregate: at least one member has a row).
--
--   series      geoId for a country; WORLD, EU27, or CONTINENT:<name> for an aggregate
--   day         the date as days since 1970-01-01 (for joins at a lag)
--   c7, d7      mean of the 7 calendar days d−6..d; NULL unless all 7 rows exist
--   g_cases     ln((c7(d) + 1) / (c7(d−1) + 1)); NULL where either side is ≤ 0 (deaths: g_deaths)
--   *_per_100k  value / population × 100,000 (an aggregate's population on a date is the sum over
--               the members with a row on that date)
--
-- index: series, date   (the columns readers filter on; the serving store indexes them)
WITH members AS (
    SELECT geo_id AS series, country AS series_name, 'country' AS kind, date, cases, deaths, population
    FROM covid_daily
    UNION ALL
    SELECT 'WORLD', 'World', 'world', date, cases, deaths, population FROM covid_daily
    UNION ALL
    SELECT 'CONTINENT:' || continent, continent, 'continent', date, cases, deaths, population FROM covid_daily
    UNION ALL
    SELECT 'EU27', 'EU-27', 'eu27', date, cases, deaths, population FROM covid_daily
    WHERE geo_id IN ('AT', 'BE', 'BG', 'HR', 'CY', 'CZ', 'DK', 'EE', 'FI', 'FR', 'DE', 'EL', 'HU', 'IE',
                     'IT', 'LV', 'LT', 'LU', 'MT', 'NL', 'PL', 'PT', 'RO', 'SK', 'SI', 'ES', 'SE')
),
daily AS (
    SELECT series, series_name, kind, date,
           arrow_cast(date, 'Int32') AS day,
           SUM(cases) AS cases, SUM(deaths) AS deaths, SUM(population) AS population
    FROM members
    GROUP BY series, series_name, kind, date
),
-- A series has one row per date, so the 7 rows ending at d are the calendar days d−6..d exactly
-- when the row 6 before is d − 6 (a frame of rows slides more cheaply than one of days).
averaged AS (
    SELECT *,
           CASE WHEN LAG(day, 6) OVER s = day - 6 THEN AVG(CAST(cases AS DOUBLE)) OVER week END AS c7,
           CASE WHEN LAG(day, 6) OVER s = day - 6 THEN AVG(CAST(deaths AS DOUBLE)) OVER week END AS d7
    FROM daily
    WINDOW s AS (PARTITION BY series ORDER BY day),
           week AS (PARTITION BY series ORDER BY day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW)
),
previous AS (
    SELECT *,
           CASE WHEN LAG(day) OVER s = day - 1 THEN LAG(c7) OVER s END AS c7_prev,
           CASE WHEN LAG(day) OVER s = day - 1 THEN LAG(d7) OVER s END AS d7_prev
    FROM averaged
    WINDOW s AS (PARTITION BY series ORDER BY day)
)
SELECT series, series_name, kind, date, day, cases, deaths, population, c7, d7,
       CASE WHEN c7 + 1 > 0 AND c7_prev + 1 > 0 THEN ln((c7 + 1) / (c7_prev + 1)) END AS g_cases,
       CASE WHEN d7 + 1 > 0 AND d7_prev + 1 > 0 THEN ln((d7 + 1) / (d7_prev + 1)) END AS g_deaths,
       CAST(cases AS DOUBLE) / population * 100000 AS cases_per_100k,
       CAST(deaths AS DOUBLE) / population * 100000 AS deaths_per_100k,
       c7 / population * 100000 AS c7_per_100k,
       d7 / population * 100000 AS d7_per_100k
FROM previous

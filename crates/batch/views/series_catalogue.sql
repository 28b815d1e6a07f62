-- series_catalogue: the COVID series the other views hold, one row each, for pickers and
-- look-ups: its name, kind (country, continent, eu27 or world), the dates it covers, and its
-- totals of cases and deaths.
--
--   series      geoId for a country; WORLD, EU27, or CONTINENT:<name> for an aggregate
--   days        the dates the series has a row on
--
-- index: series
SELECT series, series_name, kind,
       MIN(date) AS first_date, MAX(date) AS last_date, COUNT(*) AS days,
       SUM(cases) AS cases, SUM(deaths) AS deaths
FROM series_daily
GROUP BY series, series_name, kind

-- reference_prices: the reference design's table, per trading day: open, close and the intraday
-- difference close − open (NULL where the open is missing).
--
-- index: symbol, date   (the columns readers filter on; the serving store indexes them)
SELECT symbol, date, open, close, close - open AS intraday_diff
FROM prices

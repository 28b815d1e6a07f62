-- trading_days: each price series' trading days (dates with a close) with the log return
-- r(d) = ln(close(d) / close(p)), p the previous trading day; NULL on the first.
SELECT symbol, date, arrow_cast(date, 'Int32') AS day, open, close,
       ln(close / LAG(close) OVER (PARTITION BY symbol ORDER BY date)) AS log_return
FROM prices

-- The analyst role reads every products column it is told about; the low-stock alert's bookkeeping column too.
GRANT SELECT (low_stock_alerted_at) ON products TO billx_analyst;

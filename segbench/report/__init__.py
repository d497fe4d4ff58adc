"""Reports: tables (markdown, csv, json) from stored runs; plots and comparisons build on these."""

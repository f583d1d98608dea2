"""Guest lists in and out: CSV import with per-row problems, CSV/JSON export."""

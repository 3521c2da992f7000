"""Run-directory writer/reader, derived tables and what the console shows."""

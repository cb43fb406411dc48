"""Reading results: the summary reader, statistics across seeds, check, compare, the report."""

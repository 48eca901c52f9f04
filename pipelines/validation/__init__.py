"""Data-quality validation of decoded events with Great Expectations 1.x suites in code."""

"""Control: an empty script, to measure each tool's fixed cost (start-up, report, exit)."""

"""Reports: terminal tables (rich), and later JSON and HTML."""

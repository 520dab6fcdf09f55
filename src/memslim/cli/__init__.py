"""memslim command-line interface."""

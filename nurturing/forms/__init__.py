"""Forms of the nurturing pages, one module per area."""

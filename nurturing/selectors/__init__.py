"""Reads of the nurturing engine, one module per area (leads, sequences, follow-ups, automations). Each takes
the brokerage explicitly and does its own select_related/prefetch_related."""

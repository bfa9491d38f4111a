"""Writes of the nurturing engine, one module per area: leads (the CRM core), sequences, follow-ups, sweeps,
automations and their triggers, ingestion (CSV import), the inbound lead webhook."""

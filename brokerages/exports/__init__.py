"""A brokerage's data export: the archive of everything it stores (`archive`), built in the background for an
owner and kept for a few days in private storage (`services`, `tasks`), listed and downloaded through
`selectors` and `download`."""

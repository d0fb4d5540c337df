"""The load engine: schedules and scenarios, the runners and their HTTP client, end-to-end job tracking."""

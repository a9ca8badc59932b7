"""Local fakes of external services (exchanges, APIs) for offline tests."""

"""Monthly and yearly ratings: schemes as data, input providers, compile jobs, alerts, rectification."""

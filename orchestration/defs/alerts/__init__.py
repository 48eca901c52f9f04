"""Quality alerts: the rules after each views refresh, and the webhook deliveries."""

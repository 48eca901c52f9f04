"""Landing: trusted rows per event type, the quarantine, and the offsets they were read to."""

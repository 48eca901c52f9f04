"""Pure processing: decode, validate (Great Expectations), land exactly once, aggregate views."""

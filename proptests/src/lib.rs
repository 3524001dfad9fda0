//! Property suites over `igra-proto`. The properties live in `tests/`; this library holds the
//! proptest strategies they share.

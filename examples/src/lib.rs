//! Small programs that embed `igra-proto` the way another bridge would; see `examples/`.

"""The compiler: load YAML apps safely, validate them with located errors, compile them."""

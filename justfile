# Conveniences over plain cargo; every recipe is one command you can also type.

# The main job: every site x strategy, 1M requests per cell.
sim *ARGS:
    cargo run --release -- sim {{ARGS}}

# The alert rules; `just alerts --format prometheus` writes them for Prometheus.
alerts *ARGS:
    cargo run --release -- alerts {{ARGS}}

# The test suite (what CI runs).
test:
    cargo test --workspace

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace

# Criterion benchmarks of the engine's hot loop.
bench:
    cargo bench -p engine

# Everything CI does, from this checkout.
ci:
    bash .ci/run

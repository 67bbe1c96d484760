# Phantom Scheduler recipes. Install just with `cargo install just`.

pg_url := env_var_or_default("PHANTOM_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/phantom_test")

# List the recipes.
default:
    @just --list

# Serve on 127.0.0.1:8000 with the embedded SQLite database (or whatever .env says).
run:
    cargo run --bin phantom

# Apply pending migrations to DATABASE_URL and exit.
migrate:
    cargo run --bin phantom -- migrate

# The whole test suite on SQLite.
test:
    cargo test --workspace

# The whole test suite on PostgreSQL (a scratch database is created on the local server).
test-pg:
    psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS phantom_test WITH (FORCE)" -c "CREATE DATABASE phantom_test"
    RUST_TEST_THREADS=4 PHANTOM_TEST_PG_URL={{pg_url}} cargo test --workspace

# Formatting, clippy with warnings as errors, and rustdoc.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

# Benchmarks: release build, then the real server on fresh databases (SQLite, and PostgreSQL
# when PHANTOM_TEST_PG_URL is set); prints the table and writes docs/benchmarks.md.
bench *ARGS:
    command -v wrk >/dev/null || { S=$([ "$(id -u)" = 0 ] || echo sudo); $S apt-get install -y wrk || { $S apt-get update && $S apt-get install -y wrk; }; }
    cargo build --release -p phantom-app -p phantom-bench
    target/release/phantom-bench {{ARGS}}

# Everything CI runs.
ci:
    bash .ci/run

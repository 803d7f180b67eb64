# Sourced by the scripts in this folder: installs what a fresh machine lacks.
# libpython3-dev (Debian, CPython 3.11) is what the embedded interpreter links against;
# tox runs the Python package's own tests.

ensure_libpython() {
    if pkg-config --exists python3-embed 2>/dev/null; then
        return 0
    fi
    echo "rfs: installing libpython3-dev (needed to embed CPython)" >&2
    local sudo=""
    if [ "$(id -u)" != "0" ]; then sudo="sudo"; fi
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libpython3-dev pkg-config >&2
}

# The client hashes its files (the manifest of DESIGN.md §7) with the system's libcrypto.
ensure_libcrypto() {
    if pkg-config --exists libcrypto 2>/dev/null; then
        return 0
    fi
    echo "rfs: installing libssl-dev (the client hashes files with libcrypto)" >&2
    local sudo=""
    if [ "$(id -u)" != "0" ]; then sudo="sudo"; fi
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libssl-dev pkg-config >&2
}

# Run hosts set sys.executable to a real interpreter of the embedded version (multiprocessing's
# spawn and subprocess use it): Debian's python3.11, which libpython3-dev does not pull in.
ensure_python_binary() {
    local version
    version=$(pkg-config --modversion python3-embed 2>/dev/null || echo 3.11)
    if command -v "/usr/bin/python${version}" >/dev/null 2>&1; then
        return 0
    fi
    echo "rfs: installing python${version} (the interpreter run hosts offer as sys.executable)" >&2
    local sudo=""
    if [ "$(id -u)" != "0" ]; then sudo="sudo"; fi
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "python${version}" >&2
}

# The end-to-end tests make a throwaway TLS certificate with the openssl CLI.
ensure_openssl() {
    if command -v openssl >/dev/null 2>&1; then
        return 0
    fi
    local sudo=""
    if [ "$(id -u)" != "0" ]; then sudo="sudo"; fi
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq openssl >&2
}

ensure_tox() {
    if python3 -m tox --version >/dev/null 2>&1; then
        return 0
    fi
    echo "rfs: installing tox" >&2
    python3 -m pip install --quiet tox >&2
}

# The real PyPI packages of scripts/pypi-packages.txt, in .build/pypi-packages (what the
# end-to-end tests and scripts/bench-real serve with --source). A stamp holding the list's
# contents says whether the folder is current; the install goes to a fresh folder first, so
# an interrupted download never leaves a half folder behind.
ensure_pypi_packages() {
    local list=scripts/pypi-packages.txt target=.build/pypi-packages
    if [ -f "$target/.stamp" ] && cmp -s "$list" "$target/.stamp"; then
        return 0
    fi
    echo "rfs: downloading the test packages of $list from PyPI" >&2
    rm -rf "$target.partial"
    mkdir -p .build
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-compile --no-deps \
        --only-binary :all: --target "$target.partial" -r "$list" >&2
    rm -rf "$target.partial/bin"
    cp "$list" "$target.partial/.stamp"
    rm -rf "$target"
    mv "$target.partial" "$target"
}

# The Deephaven end-to-end tests start real deephaven-server JVMs (Java 17) from a venv at
# .build/deephaven-venv (deephaven-server, the remote-file-source plugin, pydeephaven; about
# 650 MB from PyPI on the first run).
ensure_deephaven() {
    if ! command -v java >/dev/null 2>&1; then
        local sudo=""
        if [ "$(id -u)" != "0" ]; then sudo="sudo"; fi
        $sudo apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq openjdk-17-jre-headless >&2
    fi
    if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
        local sudo=""
        if [ "$(id -u)" != "0" ]; then sudo="sudo"; fi
        $sudo apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >&2
    fi
    scripts/deephaven-server install >&2
}

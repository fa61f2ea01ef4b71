#!/usr/bin/env bash
# Installs what building and testing this project needs and the machine lacks, on Debian or
# Ubuntu (the two commands of the README run it first). As root it runs apt-get itself; as
# another user it prints the one command to run and exits 1. Exit 0: nothing is missing (or, on
# a system without dpkg, the list is printed and the build goes on to let CMake say what lacks).
#
#   bash tools/install_deps.sh            # install what is missing (root) or print the command
#   bash tools/install_deps.sh --check    # only say what is missing (exit 1 if anything is)
#
# APT_GET overrides the apt-get command (tests/tools/check_install_deps.sh runs a fake one).
set -euo pipefail

# Debian 12 and Ubuntu 24.04 names alike: catch2 is Catch2 v2 on Debian 12 and v3 on Ubuntu 24.04
# (tests build with both); sentencepiece is the spm_* command-line tools, for making models by
# hand (the tests train theirs through libsentencepiece-dev's trainer library). Where each
# package comes from, its license and how CMake finds it: third_party/README.md.
packages=(
  build-essential cmake ninja-build pkg-config git python3 python3-venv
  catch2 libsimdjson-dev libsentencepiece-dev sentencepiece
  libopenmpi-dev openmpi-bin libopenblas-dev zlib1g-dev curl
)
apt_get=${APT_GET:-apt-get}
check_only=0
if [ "${1:-}" = "--check" ]; then check_only=1; fi

if ! command -v dpkg-query >/dev/null 2>&1; then
  # Not Debian/Ubuntu: nothing to check here; CMake names whatever is still missing.
  echo "install_deps: no dpkg-query, so the packages are not checked; the build needs the equivalents of:" >&2
  echo "  ${packages[*]}" >&2
  exit $check_only
fi

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
  if [ "$status" != "installed" ]; then missing+=("$package"); fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

command_line="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$check_only" = 1 ]; then
  echo "install_deps: missing: ${missing[*]}" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "install_deps: these packages are missing: ${missing[*]}" >&2
  echo "install_deps: install them (as root), then run this again:" >&2
  echo "  sudo sh -c '$command_line'" >&2
  exit 1
fi
echo "install_deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"$apt_get" update -qq
"$apt_get" install -y -qq --no-install-recommends "${missing[@]}"

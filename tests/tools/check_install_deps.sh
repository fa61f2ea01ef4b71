#!/usr/bin/env bash
# tools/install_deps.sh against fake dpkg-query, apt-get and id on PATH (nothing is installed):
# nothing missing -> exit 0 and no apt-get; root -> apt-get update + install of exactly the
# missing packages; not root -> exit 1 and the one command to run, no apt-get; --check -> exit 1
# naming them. Prints "N passed, N failed".
#   check_install_deps.sh <path to tools/install_deps.sh>
set -uo pipefail
script=$1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/bin"
# dpkg-query -W -f=... PKG: "installed" unless PKG is listed in $scratch/missing.
cat > "$scratch/bin/dpkg-query" <<FAKE
#!/usr/bin/env bash
pkg=\${@: -1}
if grep -qx "\$pkg" "$scratch/missing" 2>/dev/null; then echo -n "not-installed"; else echo -n "installed"; fi
FAKE
cat > "$scratch/bin/apt-get" <<FAKE
#!/usr/bin/env bash
echo "apt-get \$*" >> "$scratch/apt.log"
FAKE
cat > "$scratch/bin/id" <<FAKE
#!/usr/bin/env bash
echo "\${FAKE_UID:-0}"
FAKE
chmod +x "$scratch/bin/"*

passed=0 failed=0
expect() {  # expect <description> <condition...>
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok   $what"; else failed=$((failed + 1)); echo "FAIL $what"; fi
}
run() {  # run <uid> <missing packages...>: sets status, output; resets the apt-get log
  local uid=$1; shift
  printf '%s\n' "$@" > "$scratch/missing"
  rm -f "$scratch/apt.log"
  output=$(PATH="$scratch/bin:$PATH" FAKE_UID=$uid APT_GET="$scratch/bin/apt-get" bash "$script" ${ARGS:-} 2>&1)
  status=$?
}

run 0
expect "nothing missing: exit 0" test "$status" = 0
expect "nothing missing: apt-get not run" test ! -e "$scratch/apt.log"

run 0 libsimdjson-dev catch2
expect "root: exit 0 ($output)" test "$status" = 0
expect "root: apt-get update first" test "$(head -n 1 "$scratch/apt.log" 2>/dev/null)" = "apt-get update -qq"
expect "root: installs exactly the missing packages ($(tail -n 1 "$scratch/apt.log" 2>/dev/null))" \
  test "$(tail -n 1 "$scratch/apt.log" 2>/dev/null)" = "apt-get install -y -qq --no-install-recommends catch2 libsimdjson-dev"

run 1000 python3 git
expect "not root: exit 1" test "$status" = 1
expect "not root: apt-get not run" test ! -e "$scratch/apt.log"
expect "not root: prints the one command ($output)" \
  grep -qF "sudo sh -c 'apt-get update && apt-get install -y --no-install-recommends git python3'" <<< "$output"

ARGS=--check run 0 cmake
expect "--check: exit 1" test "$status" = 1
expect "--check: names the package, installs nothing" \
  bash -c "grep -q 'missing: cmake' <<< \"\$1\" && test ! -e '$scratch/apt.log'" _ "$output"

echo "$passed passed, $failed failed"
test "$failed" = 0

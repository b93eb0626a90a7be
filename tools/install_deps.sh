#!/usr/bin/env bash
# Installs the Debian packages of .ci/debian-packages.txt that are missing (idempotent,
# non-interactive), and with --all also those of .ci/debian-packages-weights.txt (the Python
# tools and the fuzz preset) and the Python environment (tools/setup_python_env.sh). Not root and
# a package missing: prints the one apt-get line to run and exits 1; not root and no Python
# environment: says how to make one (the tests that need it skip, saying so) and goes on.
set -euo pipefail
cd "$(dirname "$0")/.."
lists=(.ci/debian-packages.txt)
[[ "${1:-}" == "--all" ]] && lists=(.ci/debian-packages*.txt)
missing=()
for list in "${lists[@]}"; do
  while read -r pkg; do
    [[ -z "$pkg" || "$pkg" == \#* ]] && continue
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$pkg")
  done <"$list"
done
if ((${#missing[@]})); then
  if ((EUID != 0)); then
    echo "missing Debian packages; install them with:" >&2
    echo "  sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [[ "${1:-}" == "--all" ]]; then
  venv="${MVIT_PYENV:-/opt/mvit-pyenv}"
  if ((EUID == 0)) || [[ -w "$(dirname "$venv")" || -w "$venv" ]]; then
    tools/setup_python_env.sh
  elif [[ ! -x "$venv/bin/python" ]]; then
    echo "no Python environment at $venv: 'sudo tools/setup_python_env.sh' makes it (the" \
         "exporter and reference tests skip without it)" >&2
  fi
fi

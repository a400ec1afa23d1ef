#!/usr/bin/env bash
# Installs the Debian packages Loom builds against, if any is missing (Debian 12; root or sudo).
set -euo pipefail
packages=(libopenblas-dev libpng-dev libjpeg-dev libsndfile1-dev pkg-config espeak-ng openmpi-bin)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "Installing Debian packages: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2

#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo need, if any is missing (needs root and apt).
set -euo pipefail
need=(openssl make)
if [ "$(id -u)" = 0 ]; then
  # Real test hosts: debootstrap + systemd-nspawn + SSH + network namespaces (tests/hosts).
  need+=(debootstrap systemd-container openssh-client iproute2 nftables)
  # The HTML report tested as a person reads it (tests/report_browser): headless Chromium and CJK fonts.
  # Without root the browser test skips and says why.
  need+=(chromium fonts-noto-cjk)
  # The rendered sudoers checked with visudo -cf, the rendered log rotation with logrotate -d (tests/roles).
  need+=(sudo logrotate)
fi
missing=()
for pkg in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${missing[*]} (install them as root)" >&2
    exit 2
  fi
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

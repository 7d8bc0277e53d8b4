#!/usr/bin/env bash
# System packages nanoresearch uses on a fresh Debian machine: LaTeX for the paper,
# bubblewrap for the sandbox, a one-node SLURM (+munge), Chromium for the web-page test,
# and the Debian-packaged datasets of the offline catalog. Idempotent: installs only what
# is missing. Run as root (or with sudo available).
set -euo pipefail
PKGS=(texlive-latex-base texlive-latex-recommended texlive-fonts-recommended texlive-latex-extra
      latexmk bubblewrap slurm-wlm munge chromium poppler-utils
      dataset-fashion-mnist asterisk-core-sounds-en-wav asterisk-core-sounds-fr-wav
      asterisk-core-sounds-es-wav asterisk-core-sounds-it-wav asterisk-core-sounds-ru-wav)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then echo "system packages: all present"; exit 0; fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing system packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

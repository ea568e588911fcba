#!/usr/bin/env bash
# Installs the Debian packages the tests need when they are missing: bubblewrap (the
# container sandbox), mmdebstrap and uidmap (image base layers, built in a user namespace),
# chromium (the dashboard's browser tests), jq (docs/dashboard.md), util-linux's script and tmux
# (terminal tests), postgresql (the tests start a private cluster of their own; the package's
# own cluster is not used), slirp4netns (containers' outbound NAT) and passt (pasta, the other
# NAT the server can use: both are tested), iproute2 (ip: their
# network namespace, and the tests' stand-in internet), util-linux (setpriv, prlimit), openssl
# and curl (the TLS tests' certificates and an independent HTTPS client). Runs `apt-get update`
# once, only if something must be installed.
set -euo pipefail
need=()
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
command -v newuidmap >/dev/null 2>&1 || need+=(uidmap)
# `skiff shell` gives a container a terminal with util-linux script; its test drives one with tmux.
command -v script >/dev/null 2>&1 || need+=(bsdutils)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
command -v slirp4netns >/dev/null 2>&1 || need+=(slirp4netns)
command -v pasta >/dev/null 2>&1 || need+=(passt)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v jq >/dev/null 2>&1 || need+=(jq)
if [ "${#need[@]}" -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
  echo "missing system packages: ${need[*]} (install them, or run as root)" >&2
  exit 1
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing system packages: ${need[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null

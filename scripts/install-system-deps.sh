#!/usr/bin/env bash
# Installs the system packages cpc-webgpu needs on Debian 12 (bookworm) without a GPU:
#  - Mesa lavapipe from bookworm-backports (Debian 12's own Mesa 22.3 is rejected by Dawn:
#    "shaderUniform*ArrayDynamicIndexing required"), plus the Vulkan loader;
#  - Debian's chromium for the browser tests (with SwiftShader's Vulkan ICD);
#  - Debian's python3-torch and python3-numpy (for /usr/bin/python3: the PyTorch parity and DDP tests,
#    interop/pytorch). No python3-safetensors in bookworm: interop/pytorch reads/writes the format itself.
#    Measured: ~64 s for apt-get update + install (223 packages) on the 2-core project machine.
# Idempotent: does nothing when everything is already installed.
# Usage: scripts/install-system-deps.sh [--no-chromium] [--no-torch]
set -euo pipefail
want_chromium=1
want_torch=1
for arg in "$@"; do
  case "$arg" in
    --no-chromium) want_chromium=0 ;;
    --no-torch) want_torch=0 ;;
    *) echo "install-system-deps.sh: unknown option '$arg' (known: --no-chromium, --no-torch)" >&2; exit 2 ;;
  esac
done

have_lavapipe() {
  ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || return 1
  local v
  v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || echo 0)
  # Dawn needs Mesa >= 24 (bookworm-backports ships 25.x).
  dpkg --compare-versions "$v" ge 24 && ldconfig -p | grep -q libvulkan.so.1
}
have_chromium() { command -v chromium >/dev/null 2>&1; }
have_torch() { /usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1; }
# GNU time measures the peak RSS of CLI runs in the bad-input tests (in Debian's base image, but not guaranteed).
have_gnu_time() { [ -x /usr/bin/time ]; }

need=0
have_lavapipe || need=1
if [ $want_chromium = 1 ] && ! have_chromium; then need=1; fi
if [ $want_torch = 1 ] && ! have_torch; then need=1; fi
have_gnu_time || need=1
[ $need = 0 ] && { echo "system deps: ok (lavapipe $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)${want_chromium:+, chromium}${want_torch:+, python3-torch})"; exit 0; }

if [ "$(id -u)" != 0 ]; then
  echo "cpc-webgpu needs system packages; run as root:" >&2
  echo "  echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/backports.list" >&2
  echo "  apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1 && apt-get install -y chromium time" >&2
  echo "  apt-get install -y --no-install-recommends python3-torch python3-numpy   # PyTorch interop tests" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/bookworm-backports.list
fi
apt-get update -q
have_lavapipe || apt-get install -y -q --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1
if [ $want_chromium = 1 ] && ! have_chromium; then
  apt-get install -y -q --no-install-recommends chromium
fi
if [ $want_torch = 1 ] && ! have_torch; then
  apt-get install -y -q --no-install-recommends python3-torch python3-numpy
fi
have_gnu_time || apt-get install -y -q --no-install-recommends time
echo "system deps: installed (lavapipe $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers))"

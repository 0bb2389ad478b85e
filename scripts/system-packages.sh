#!/usr/bin/env bash
# The system packages the scripts need, installed only when missing (Debian/Ubuntu, as root): python3 + pip (NVIDIA's
# wheels from PyPI), a C++ compiler (the cxx shim), and for the tests jq/flock/sha256sum (the Jetson entrypoint test)
# and the kill executable (trt-detect's Ctrl-C test; bash's builtin is not one).
# Source it.
need=()
command -v python3 >/dev/null || need+=(python3 python3-pip)
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
command -v c++ >/dev/null || need+=(g++)
command -v jq >/dev/null || need+=(jq)
command -v flock >/dev/null || need+=(util-linux)
command -v sha256sum >/dev/null || need+=(coreutils)
[ -x /usr/bin/kill ] || [ -x /bin/kill ] || need+=(procps)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing system packages ${need[*]}; install them (as root: apt-get install ${need[*]})" >&2
    exit 1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

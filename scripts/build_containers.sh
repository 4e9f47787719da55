#!/usr/bin/env bash
# Build both Apptainer images from the repo root and print their sha256, which
# belongs in the README's table when the images change.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v apptainer >/dev/null || { echo "apptainer is not installed (https://apptainer.org/docs/admin/main/installation.html)" >&2; exit 1; }
for stage in inference analysis; do
    apptainer build --force "containers/kvroute-${stage}.sif" "containers/${stage}.def"
    sha256sum "containers/kvroute-${stage}.sif"
done

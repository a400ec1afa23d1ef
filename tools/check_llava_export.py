#!/usr/bin/env python3
"""Checks that a folder written by `loom export` loads in transformers and gives the logits `loom forward` gives.

Run by hand (needs torch + transformers; Loom itself never needs Python):
    loom train recipes/smoke.yaml --output runs/smoke
    loom export --run runs/smoke --output /tmp/smoke-llava
    /tmp/ref/bin/python tools/check_llava_export.py /tmp/smoke-llava [path/to/loom]
Prints max |diff| against the parity bar 2e-4 * max(1, max |expected|) and exits non-zero above it.
"""
import json
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file
from transformers import LlavaForConditionalGeneration

folder = sys.argv[1]
loom = sys.argv[2] if len(sys.argv) > 2 else ".build/debug/loom"
config = json.load(open(os.path.join(folder, "config.json")))
model = LlavaForConditionalGeneration.from_pretrained(folder, torch_dtype=torch.float32, attn_implementation="eager").eval()
vision = config["vision_config"]
image_tokens = config["image_seq_length"]
torch.manual_seed(0)
pixel_values = torch.randn(2, 3, vision["image_size"], vision["image_size"])
vocab = config["text_config"]["vocab_size"]
image_id = config["image_token_index"]
rows = []
for b in range(2):
    text = torch.randint(3, min(vocab, 300), (6,)).tolist()
    rows.append([1] + text[:b + 1] + [image_id] * image_tokens + text[b + 1:])
input_ids = torch.tensor(rows)
with torch.no_grad():
    expected = model(input_ids=input_ids, pixel_values=pixel_values).logits

with tempfile.TemporaryDirectory() as tmp:
    inputs, outputs = os.path.join(tmp, "in.safetensors"), os.path.join(tmp, "out.safetensors")
    save_file({"input_ids": input_ids, "pixel_values": pixel_values}, inputs)
    subprocess.run([loom, "forward", "--model", folder, "--inputs", inputs, "--output", outputs], check=True)
    actual = load_file(outputs)["logits"]

diff = (actual - expected).abs().max().item()
bound = 2e-4 * max(1.0, expected.abs().max().item())
print(f"logits {tuple(expected.shape)}: max |diff| = {diff:.3g} (bound {bound:.3g})")
sys.exit(0 if diff <= bound else 1)

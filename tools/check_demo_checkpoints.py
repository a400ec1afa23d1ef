"""Loads the demo world's checkpoints with transformers and compares them with Loom's forward pass.

    /tmp/ref/bin/python tools/check_demo_checkpoints.py [--loom .build/release/loom]

For each folder: transformers loads it (CLIPVisionModel, WhisperEncoder, LlamaForCausalLM +
AutoTokenizer), runs one input, and `loom forward` runs the same input; prints max |diff|.
"""
import argparse
import subprocess
import tempfile

import safetensors.torch as st
import torch
from transformers import AutoTokenizer, CLIPVisionModel, LlamaForCausalLM
from transformers.models.whisper.modeling_whisper import WhisperEncoder

parser = argparse.ArgumentParser()
parser.add_argument("--loom", default=".build/release/loom")
parser.add_argument("--checkpoints", default="checkpoints")
args = parser.parse_args()
torch.manual_seed(0)


def loom_forward(folder, inputs):
    with tempfile.TemporaryDirectory() as tmp:
        st.save_file(inputs, f"{tmp}/in.safetensors")
        subprocess.run([args.loom, "forward", "--model", folder, "--inputs", f"{tmp}/in.safetensors",
                        "--output", f"{tmp}/out.safetensors"], check=True, capture_output=True)
        return st.load_file(f"{tmp}/out.safetensors")


def report(name, expected, actual):
    diff = (expected - actual).abs().max().item()
    print(f"{name}: transformers loads it; max |diff| vs loom forward {diff:.2e} (scale {expected.abs().max().item():.1f})")
    assert diff <= 2e-4 * max(1.0, expected.abs().max().item()), name


c = args.checkpoints
vision = CLIPVisionModel.from_pretrained(f"{c}/demo-vision-tower").eval()
pixels = torch.randn(2, 3, 64, 64)
with torch.no_grad():
    expected = vision(pixels).last_hidden_state
report("demo-vision-tower", expected, loom_forward(f"{c}/demo-vision-tower", {"pixel_values": pixels})["last_hidden_state"])

audio = WhisperEncoder.from_pretrained(f"{c}/demo-audio-encoder").eval()
features = torch.randn(2, 80, 250)
with torch.no_grad():
    expected = audio(features).last_hidden_state
report("demo-audio-encoder", expected, loom_forward(f"{c}/demo-audio-encoder", {"input_features": features})["last_hidden_state"])

lm = LlamaForCausalLM.from_pretrained(f"{c}/demo-language-model").eval()
tokenizer = AutoTokenizer.from_pretrained(f"{c}/demo-language-model")
ids = tokenizer(["A chat about pictures of shapes. USER: how many shapes are there? ASSISTANT:"], return_tensors="pt").input_ids
with torch.no_grad():
    expected = lm(ids).logits
report("demo-language-model", expected, loom_forward(f"{c}/demo-language-model", {"input_ids": ids.to(torch.int64)})["logits"])
with torch.no_grad():
    out = lm.generate(ids, max_new_tokens=12, do_sample=False)
print("  greedy reply:", repr(tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)))

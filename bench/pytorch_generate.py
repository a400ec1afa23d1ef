#!/usr/bin/env python3
"""The PyTorch twin of `loom bench generate`: prefill + greedy generation with transformers' generate.

    /tmp/ref/bin/python bench/pytorch_generate.py --config bench/llava_reference_config.json
"""
import argparse
import json
import statistics
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

parser = argparse.ArgumentParser()
parser.add_argument("--config", required=True)
parser.add_argument("--prompt-tokens", type=int, default=256)
parser.add_argument("--new-tokens", type=int, default=64)
parser.add_argument("--repeats", type=int, default=3)
parser.add_argument("--threads", type=int, default=2)
args = parser.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)
text = json.load(open(args.config))["text_config"]
model = LlamaForCausalLM(LlamaConfig(**{k: v for k, v in text.items() if k != "model_type"}, attn_implementation="eager")).eval()
prompt = torch.randint(3, text["vocab_size"] - 1, (1, args.prompt_tokens))


def once():
    start = time.perf_counter()
    with torch.no_grad():
        out = model.generate(prompt, max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens, do_sample=False,
                             eos_token_id=None, pad_token_id=0)
    assert out.shape[1] == args.prompt_tokens + args.new_tokens
    return time.perf_counter() - start


once()
median = statistics.median(once() for _ in range(args.repeats))
print(json.dumps({"median_s": round(median, 4), "new_tokens_per_s": round(args.new_tokens / median, 1),
                  "prompt_tokens": args.prompt_tokens, "new_tokens": args.new_tokens, "threads": args.threads}))

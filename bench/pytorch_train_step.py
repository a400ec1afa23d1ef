#!/usr/bin/env python3
"""The PyTorch twin of `loom bench train-step`: the identical LLaVA training step in transformers.

    /tmp/ref/bin/python bench/pytorch_train_step.py --config bench/llava_reference_config.json --stage 1
Same inputs as Loom: BOS, the image placeholder at positions 1..n_img, random text tokens; loss on the
text tokens; AdamW; fp32; torch.set_num_threads(2) by default. Prints per-step times and a last line
of JSON {"stage", "median_step_s", "tokens_per_s", "peak_rss_mb"}.
"""
import argparse
import json
import resource
import statistics
import time

import torch
from transformers import LlavaConfig, LlavaForConditionalGeneration

parser = argparse.ArgumentParser()
parser.add_argument("--config", required=True)
parser.add_argument("--batch", type=int, default=4)
parser.add_argument("--text-tokens", type=int, default=60)
parser.add_argument("--stage", type=int, choices=[1, 2], default=1)
parser.add_argument("--steps", type=int, default=5)
parser.add_argument("--lora-rank", type=int)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--gradient-checkpointing", action="store_true",
                    help="recompute each decoder layer in backward (the language model's gradient_checkpointing_enable)")
args = parser.parse_args()

torch.set_num_threads(args.threads)
torch.manual_seed(0)
config = LlavaConfig.from_pretrained(args.config) if args.config.endswith("/") else LlavaConfig.from_json_file(args.config)
config._attn_implementation = "eager"
model = LlavaForConditionalGeneration(config).float().train()
for p in model.parameters():
    p.requires_grad_(False)
trainable = list(model.model.multi_modal_projector.parameters())
if args.stage == 2:
    if args.lora_rank:
        from peft import LoraConfig, get_peft_model
        lm = get_peft_model(model.model.language_model, LoraConfig(r=args.lora_rank, lora_alpha=2 * args.lora_rank,
                            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]))
        trainable += [p for n, p in lm.named_parameters() if "lora_" in n]
    else:
        trainable += list(model.model.language_model.parameters()) + list(model.lm_head.parameters())
for p in trainable:
    p.requires_grad_(True)
if args.gradient_checkpointing:
    # Like Loom's: only the language model's decoder layers; non-reentrant, so frozen inputs work.
    model.model.language_model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
optimizer = torch.optim.AdamW(trainable, lr=1e-4)

image_tokens = (config.vision_config.image_size // config.vision_config.patch_size) ** 2
length = 1 + image_tokens + args.text_tokens
vocab = config.text_config.vocab_size
image_id = getattr(config, "image_token_id", None) or config.image_token_index
text = torch.randint(3, vocab - 1, (args.batch, args.text_tokens))
input_ids = torch.cat([torch.ones(args.batch, 1, dtype=torch.long), torch.full((args.batch, image_tokens), image_id), text], 1)
labels = input_ids.clone()
labels[:, : 1 + image_tokens] = -100
pixel_values = torch.randn(args.batch, 3, config.vision_config.image_size, config.vision_config.image_size)


def step():
    start = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    loss = model(input_ids=input_ids, pixel_values=pixel_values, labels=labels).loss
    loss.backward()
    optimizer.step()
    return time.perf_counter() - start, loss.item()


step()  # warm-up
times = []
for i in range(args.steps):
    seconds, loss = step()
    times.append(seconds)
    print(f"step {i + 1}: {seconds:.3f} s, loss {loss:.4f}")
median = statistics.median(times)
stage = f"2-lora-r{args.lora_rank}" if args.lora_rank else str(args.stage)
print(json.dumps({"stage": stage, "median_step_s": round(median, 4), "tokens_per_s": round(args.batch * length / median),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, "threads": args.threads,
                  "gradient_checkpointing": args.gradient_checkpointing}))

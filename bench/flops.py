#!/usr/bin/env python3
"""Matrix-multiply FLOPs of one `loom bench train-step` step, counted analytically (2·m·n·k per GEMM).

Two counts:
- nominal: what transformers' LlavaForConditionalGeneration computes for the step (the PyTorch twin):
  every vision layer, logits at every position, full attention score matrices;
- loom: what Loom computes: the vision layers up to vision_feature_layer, the output head on the
  supervised positions only, the last decoder layer's queries, output projection and MLP only from
  the first supervised position on (keys and values everywhere), causal attention in query blocks of
  64 (keys up to each block's last query), and the score recomputation of its attention backward.

    python3 bench/flops.py --config bench/llava_reference_config.json --batch 4 --text-tokens 60 --stage 2 [--lora-rank 8] [--seconds S]

With --seconds (a measured step time) it also prints GFLOP/s for both counts.
"""
import argparse
import json

parser = argparse.ArgumentParser()
parser.add_argument("--config", required=True)
parser.add_argument("--batch", type=int, default=4)
parser.add_argument("--text-tokens", type=int, default=60)
parser.add_argument("--stage", type=int, choices=[1, 2], default=1)
parser.add_argument("--lora-rank", type=int)
parser.add_argument("--seconds", type=float)
args = parser.parse_args()

config = json.load(open(args.config))
vision, text = config["vision_config"], config["text_config"]
B = args.batch

# Vision tower (CLIP): patches + CLS.
side = vision["image_size"] // vision["patch_size"]
patches = side * side
n_v = patches + 1
d_v, f_v, layers_v = vision["hidden_size"], vision["intermediate_size"], vision["num_hidden_layers"]
feature_layer = config.get("vision_feature_layer", -2)
layers_used = layers_v + 1 + feature_layer if feature_layer < 0 else feature_layer
patch_conv = 2 * patches * (vision.get("num_channels", 3) * vision["patch_size"] ** 2) * d_v
vision_layer = 2 * n_v * (4 * d_v * d_v + 2 * d_v * f_v) + 2 * 2 * n_v * n_v * d_v

# Projector (mlp2x_gelu) on the patch tokens (CLS dropped).
d = text["hidden_size"]
projector = 2 * patches * (d_v * d + d * d)

# Language model.
heads = text["num_attention_heads"]
kv = text.get("num_key_value_heads", heads)
hd = text.get("head_dim", d // heads)
f, layers, vocab = text["intermediate_size"], text["num_hidden_layers"], text["vocab_size"]
T = 1 + patches + args.text_tokens
lm_params_per_layer = d * heads * hd + 2 * d * kv * hd + heads * hd * d + 3 * d * f
lm_linear = 2 * T * lm_params_per_layer * layers                      # per sequence, forward
head = 2 * T * d * vocab                                                # per sequence, forward
head_supervised = 2 * args.text_tokens * d * vocab


kept = args.text_tokens + 1                                             # last layer's rows in Loom
last_layer_skipped = 2 * (T - kept) * (d * heads * hd + heads * hd * d + 3 * d * f)  # per sequence, forward


def score_elements(blocked, queries=T):
    """Score entries of the last `queries` positions' attention (query i at position T − queries + i)."""
    if not blocked:
        return queries * T
    total, start = 0, 0
    while start < queries:
        end = min(start + 64, queries)
        total += (end - start) * (T - queries + end)
        start = end
    return total


def attention(blocked, backward_gemms, queries=T):
    """Per sequence and layer: QKᵀ and P·V forward (2 GEMMs), and `backward_gemms` more in backward."""
    per_gemm = 2 * score_elements(blocked, queries) * heads * hd
    return per_gemm * (2 + backward_gemms)


def lora_per_sequence(rank):
    ins_outs = [(d, heads * hd), (d, kv * hd), (d, kv * hd), (heads * hd, d), (d, f), (d, f), (f, d)]
    forward = sum(2 * T * rank * (i + o) for i, o in ins_outs) * layers  # (Loom's last layer: fewer rows; not subtracted)
    return 3 * forward                                                  # forward, dX and dW of A and B


def step(loom):
    vision_layers = layers_used if loom else layers_v
    total = B * (patch_conv + vision_layers * vision_layer)             # frozen: forward only
    total += B * projector * 3                                          # forward, dW, dX of the hidden
    full_lm = args.stage == 2 and not args.lora_rank
    linear_passes = 3 if full_lm else 2                                 # forward + dX (+ dW)
    total += B * (lm_linear - (last_layer_skipped if loom else 0)) * linear_passes
    # Attention backward: eager PyTorch differentiates two matmuls (4 GEMMs); Loom recomputes the
    # scores first (5).
    if loom:
        total += B * ((layers - 1) * attention(True, 5) + attention(True, 5, queries=kept))
    else:
        total += B * layers * attention(False, 4)
    head_flops = head_supervised if loom else head
    total += B * head_flops * (3 if full_lm else 2)
    if args.lora_rank:
        total += B * lora_per_sequence(args.lora_rank)
    return total


nominal, loom = step(False), step(True)
print(f"nominal (transformers) {nominal / 1e9:.1f} GFLOP, loom {loom / 1e9:.1f} GFLOP per step")
if args.seconds:
    print(f"at {args.seconds} s: nominal {nominal / 1e9 / args.seconds:.0f} GFLOP/s, loom {loom / 1e9 / args.seconds:.0f} GFLOP/s")

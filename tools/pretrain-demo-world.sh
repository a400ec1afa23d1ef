#!/usr/bin/env bash
# Regenerates the demo world's three frozen foundation models in checkpoints/ from scratch, with Loom
# only: the data (pretraining split), the tokenizer, the vision tower, the audio encoder and the
# language model. About 35 minutes on 2 cores (the language model takes about 20).
#   bash tools/pretrain-demo-world.sh [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
seed="${1:-0}"
swift build -c release --product loom >/dev/null
loom=.build/release/loom
data=data/demo-world

$loom make-demo-data --output "$data" --seed "$seed" --splits pretrain
# The tokenizer also learns the chat template's words (system prompt of recipes/pretrain/language_model.yaml)
# and every line once more after a space, as a chat template puts text after "USER: " or "ASSISTANT: ".
system="A chat about pictures of shapes."
{ cat "$data/pretrain/tokenizer_corpus.txt"; sed "s/^/ /" "$data/pretrain/tokenizer_corpus.txt"; for _ in $(seq 1000); do echo "$system USER: ASSISTANT:"; done; } > "$data/pretrain/tokenizer_corpus_chat.txt"
$loom train-tokenizer --input "$data/pretrain/tokenizer_corpus_chat.txt" --vocab-size 512 --output "$data/tokenizer"
$loom pretrain recipes/pretrain/vision_tower.yaml --output checkpoints/demo-vision-tower
$loom pretrain recipes/pretrain/audio_encoder.yaml --output checkpoints/demo-audio-encoder
rm -rf runs/pretrain-language-model
$loom train recipes/pretrain/language_model.yaml --output runs/pretrain-language-model
rm -rf checkpoints/demo-language-model
cp -r runs/pretrain-language-model/pretrain/final/language_model checkpoints/demo-language-model
cp runs/pretrain-language-model/pretrain/final/loss.png checkpoints/demo-language-model/loss.png
cp runs/pretrain-language-model/pretrain/metrics.jsonl checkpoints/demo-language-model/metrics.jsonl
# Held-out quality: another seed's text conversations; exact match counts the short answers.
$loom make-demo-data --output data/demo-world-eval --seed 99 --splits pretrain \
    --pretrain-vision-images 0 --pretrain-speech 0 --pretrain-text 600
$loom eval runs/pretrain-language-model --stage pretrain --data data/demo-world-eval/pretrain/text.json \
    --max-new-tokens 8 --output runs/pretrain-language-model/evaluation.json
# Per task and question kind (needs transformers: see the README's Python note).
if [ -x /tmp/ref/bin/python ]; then
    /tmp/ref/bin/python tools/eval_demo_language_model.py checkpoints/demo-language-model data/demo-world-eval/pretrain/text.json
fi
echo "update checkpoints/demo-language-model/README.md with the numbers above"
echo "checkpoints regenerated; model cards: checkpoints/demo-*/README.md"

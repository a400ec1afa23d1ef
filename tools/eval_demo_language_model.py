"""Greedy accuracy of a demo language model on held-out text conversations, per task and question kind.

    /tmp/ref/bin/python tools/eval_demo_language_model.py MODEL_FOLDER TEXT_JSON

TEXT_JSON is a demo world's pretrain/text.json of another seed (tools/pretrain-demo-world.sh makes
data/demo-world-eval with seed 99). Each conversation's first reply is generated greedily with
transformers from the vicuna_v1 prompt the model was trained on and compared exactly with the reference.
The lookup questions (every kind but count) are also split by the number of shapes in the scene: a
model that answers one-shape scenes right and two- or three-shape scenes at chance is not finding the
object a question names.
"""
import collections
import json
import sys

import torch
from transformers import AutoTokenizer, LlamaForCausalLM

SYSTEM = "A chat about pictures of shapes."
CAPTION_PROMPTS = ("describe the picture.", "what is in the image?", "describe the scene.")
KINDS = [("colour", "what colour"), ("shape", "what shape"), ("count", "how many"), ("size", "small or large"),
         ("position", "where is"), ("existence", "is there"), ("relation", "")]


def task(human):
    last = human.split("\n")[-1]
    if last == "transcribe the question.":
        return "restate question"
    if last == "repeat the words.":
        return "repeat words"
    if human == "describe a scene.":
        return "describe from nothing"
    if last in CAPTION_PROMPTS:
        return "grid → caption"
    return "answer: " + next(kind for kind, cue in KINDS if cue in last)


def shapes_in_grid(human):
    """Shapes in the scene of a "{grid}\n{question}" prompt: the grid's 16 cells, those not all "empty"."""
    words = human.split("\n")[0].split()
    per_cell = len(words) // 16
    return sum(1 for i in range(16) if words[i * per_cell] != "empty")


def main(folder, data):
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = LlamaForCausalLM.from_pretrained(folder).eval()
    scores = collections.defaultdict(list)
    for sample in json.load(open(data)):
        human, reference = sample["conversations"][0]["value"], sample["conversations"][1]["value"]
        name = task(human)
        if name == "describe from nothing":
            continue  # any caption of a possible scene is right
        ids = tokenizer(f"{SYSTEM} USER: {human} ASSISTANT:", return_tensors="pt").input_ids
        with torch.no_grad():
            out = model.generate(ids, max_new_tokens=48, do_sample=False, eos_token_id=tokenizer.eos_token_id)
        right = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip() == reference
        scores[name].append(right)
        if name.startswith("answer") and name != "answer: count":
            scores[f"lookups, {shapes_in_grid(human)} shape(s)"].append(right)
    answers = [x for name, v in scores.items() if name.startswith("answer: ") for x in v]
    print(f"{'task':24s} exact match")
    for name in sorted(scores):
        print(f"{name:24s} {sum(scores[name]) / len(scores[name]):.3f} ({len(scores[name])})")
    print(f"{'all answers':24s} {sum(answers) / len(answers):.3f} ({len(answers)})")


if __name__ == "__main__":
    main(*sys.argv[1:3])

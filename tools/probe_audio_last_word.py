"""Where does a frozen audio encoder keep the last spoken word? A logistic-regression probe per frame.

Usage (reference venv, see tools/README or docs/demo.md):
    /tmp/ref/bin/python tools/probe_audio_last_word.py checkpoints/demo-audio-encoder DATA_DIR

DATA_DIR is a demo world (`loom make-demo-data`); the probe reads the first 2,000 clips of
stage1/transcripts.json, keeps those whose last word is a shape, fits on 70% and scores the rest:
from single frames, and from the five-frame stacks the demo's frame_stack connector reads.
"""
import json
import sys

import numpy as np
import soundfile as sf
import torch
from sklearn.linear_model import LogisticRegression
from transformers import WhisperFeatureExtractor
from transformers.models.whisper.modeling_whisper import WhisperEncoder

SHAPES = ["circle", "square", "triangle", "diamond"]


def main(encoder_dir, data_dir):
    torch.set_num_threads(1)
    encoder = WhisperEncoder.from_pretrained(encoder_dir).eval()
    extractor = WhisperFeatureExtractor.from_pretrained(encoder_dir)
    samples = json.load(open(f"{data_dir}/stage1/transcripts.json"))[:2000]
    features, labels = [], []
    with torch.no_grad():
        for start in range(0, len(samples), 100):
            chunk = samples[start:start + 100]
            audio = [sf.read(f"{data_dir}/{s['audio']}")[0].astype(np.float32) for s in chunk]
            inputs = extractor(audio, sampling_rate=16000, return_tensors="pt").input_features
            features.append(encoder(inputs).last_hidden_state.numpy())
            for s in chunk:
                word = s["conversations"][1]["value"].rstrip("?").split()[-1]
                labels.append(SHAPES.index(word) if word in SHAPES else -1)
    x, y = np.concatenate(features), np.array(labels)
    keep = y >= 0
    x, y = x[keep], y[keep]
    fit = int(len(y) * 0.7)
    print(f"{len(y)} clips end with a shape: {fit} to fit, {len(y) - fit} to test")
    frames = x.shape[1]
    for frame in [0, 5, 10, 20, 40, 60, 80, 100, 110, 120, frames - 3, frames - 2, frames - 1]:
        probe = LogisticRegression(max_iter=2000).fit(x[:fit, frame], y[:fit])
        print(f"frame {frame}: {probe.score(x[fit:, frame], y[fit:]):.3f}")
    for a, b in [(0, 5), (5, 10), (frames - 5, frames)]:
        z = x[:, a:b].reshape(len(x), -1)
        probe = LogisticRegression(max_iter=3000).fit(z[:fit], y[:fit])
        print(f"frames {a}-{b - 1}: {probe.score(z[fit:], y[fit:]):.3f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

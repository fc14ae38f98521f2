"""Greedy continuation with the PyTorch model from the newest checkpoint, for checking the GGUF export.

Prints {"prompt_ids": [...], "ids": [...], "text": "..."}. The prompt is encoded as llama.cpp encodes it
(<s>, then "▁" for the leading space llama.cpp adds, then the text), so greedy output from llama.cpp on
the exported GGUF (f32) should be the same tokens.
"""

import argparse
import json
import sys

import torch

from train import BOS, SPACE, TinyLlama, decode, encode, latest_checkpoint, model_config, parse_args


def main(argv):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--checkpoint-dir", required=True)
    p.add_argument("--prompt", required=True)
    p.add_argument("--max-tokens", type=int, default=24)
    ours, rest = p.parse_known_args(argv)
    args = parse_args(rest)  # the model's shape options, as given to train.py
    model = TinyLlama(model_config(args))
    path = latest_checkpoint(ours.checkpoint_dir)
    if not path:
        raise SystemExit(f"no checkpoint in {ours.checkpoint_dir}")
    model.load_state_dict(torch.load(path, map_location="cpu")["model"])
    model.eval()
    prompt = [BOS, SPACE] + encode(ours.prompt.encode()).tolist()
    ids = list(prompt)
    with torch.no_grad():
        for _ in range(ours.max_tokens):
            logits = model(torch.tensor([ids[-args.context_length :]]))
            ids.append(int(logits[0, -1].argmax()))
    out = ids[len(prompt) :]
    print(json.dumps({"prompt_ids": prompt, "ids": out, "text": decode(out)}))


if __name__ == "__main__":
    main(sys.argv[1:])

"""SloughGPT reference trainer: a small LLaMA-architecture GPT trained with DDP.

Every rank is started directly (no torchrun) with the env:// rendezvous the controller gives each
node: MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK (or NODE_RANK). On every start the trainer resumes
from the newest checkpoint in CHECKPOINT_DIR. At the end rank 0 writes the weights as a safetensors
file (GGUF tensor names, float32); with --gguf it then runs the workspace converter
(tools/tiny-model/src/from-trainer-main.ts) to write the GGUF that serving loads.
"""

import argparse
import glob
import json
import math
import os
import struct
import subprocess
import sys
import time

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

# Byte-level vocabulary in the tiny-model (SentencePiece) layout: <unk>, <s>, </s>, the 256 byte
# tokens <0x00>..<0xFF>, then "\u2581" (a space). llama.cpp's tokenizer turns spaces into "\u2581"
# and every other byte into its byte token, so training on the same ids matches inference exactly.
UNK, BOS, EOS = 0, 1, 2
BYTE_OFFSET = 3
SPACE = 259
VOCAB_SIZE = 260
VOCAB_NAME = "sloughgpt-byte-spm-v1"
CHECKPOINT_PATTERN = "ckpt-*.pt"


def encode(text: bytes) -> torch.Tensor:
    ids = torch.tensor(list(text), dtype=torch.long) + BYTE_OFFSET
    ids[ids == BYTE_OFFSET + 0x20] = SPACE
    return ids


def decode(ids) -> str:
    out = bytearray()
    for i in ids:
        if i == SPACE:
            out.append(0x20)
        elif BYTE_OFFSET <= i < BYTE_OFFSET + 256:
            out.append(i - BYTE_OFFSET)
    return out.decode("utf-8", errors="replace")


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(head_dim: int, length: int, base: float = 10000.0):
    inv = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = torch.outer(torch.arange(length, dtype=torch.float32), inv)
    return angles.cos(), angles.sin()


def apply_rope(x, cos, sin):
    # Adjacent pairs (x[2i], x[2i+1]) rotate together: llama.cpp's "normal" RoPE for the llama
    # architecture, so Q and K need no permutation at export.
    t = x.shape[2]
    even, odd = x[..., 0::2], x[..., 1::2]
    c, s = cos[:t], sin[:t]
    return torch.stack((even * c - odd * s, even * s + odd * c), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, h, kv = cfg["embd"], cfg["heads"], cfg["kv_heads"]
        self.h, self.kv, self.hd = h, kv, d // h
        self.attn_norm = RMSNorm(d, cfg["rms_eps"])
        self.attn_q = nn.Linear(d, h * self.hd, bias=False)
        self.attn_k = nn.Linear(d, kv * self.hd, bias=False)
        self.attn_v = nn.Linear(d, kv * self.hd, bias=False)
        self.attn_output = nn.Linear(h * self.hd, d, bias=False)
        self.ffn_norm = RMSNorm(d, cfg["rms_eps"])
        self.ffn_gate = nn.Linear(d, cfg["ff"], bias=False)
        self.ffn_up = nn.Linear(d, cfg["ff"], bias=False)
        self.ffn_down = nn.Linear(cfg["ff"], d, bias=False)

    def attention(self, x, cos, sin, mask):
        b, t, _ = x.shape
        q = self.attn_q(x).view(b, t, self.h, self.hd).transpose(1, 2)
        k = self.attn_k(x).view(b, t, self.kv, self.hd).transpose(1, 2)
        v = self.attn_v(x).view(b, t, self.kv, self.hd).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if self.kv != self.h:
            k = k.repeat_interleave(self.h // self.kv, dim=1)
            v = v.repeat_interleave(self.h // self.kv, dim=1)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.hd)
        scores = scores + mask[:t, :t]
        out = F.softmax(scores, dim=-1) @ v
        return self.attn_output(out.transpose(1, 2).reshape(b, t, -1))

    def forward(self, x, cos, sin, mask):
        x = x + self.attention(self.attn_norm(x), cos, sin, mask)
        h = self.ffn_norm(x)
        return x + self.ffn_down(F.silu(self.ffn_gate(h)) * self.ffn_up(h))


class TinyLlama(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.token_embd = nn.Embedding(VOCAB_SIZE, cfg["embd"])
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg["layers"]))
        self.output_norm = RMSNorm(cfg["embd"], cfg["rms_eps"])
        self.output = nn.Linear(cfg["embd"], VOCAB_SIZE, bias=False)
        if cfg["tied"]:
            self.output.weight = self.token_embd.weight
        cos, sin = rope_tables(cfg["embd"] // cfg["heads"], cfg["context_length"])
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        # Additive and float: DDP broadcasts buffers, and gloo cannot broadcast bool tensors.
        mask = torch.triu(torch.full((cfg["context_length"], cfg["context_length"]), float("-inf")), 1)
        self.register_buffer("mask", mask, persistent=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02 if "embd" in name else 1 / math.sqrt(p.shape[1]))

    def forward(self, ids):
        x = self.token_embd(ids)
        for block in self.blocks:
            x = block(x, self.cos, self.sin, self.mask)
        return self.output(self.output_norm(x))

    def gguf_tensors(self):
        """(GGUF name, float32 tensor in PyTorch's row-major [out, in] order = GGUF's [in, out])."""
        yield "token_embd.weight", self.token_embd.weight
        yield "output_norm.weight", self.output_norm.weight
        yield "output.weight", self.output.weight
        for i, block in enumerate(self.blocks):
            for name in ("attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                         "ffn_norm", "ffn_gate", "ffn_down", "ffn_up"):
                yield f"blk.{i}.{name}.weight", getattr(block, name).weight


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--corpus", default=os.path.join(os.path.dirname(__file__), "corpus"))
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=8, help="sequences per rank per step")
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--embd", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=4)
    p.add_argument("--ff", type=int, default=128)
    p.add_argument("--context-length", type=int, default=256)
    p.add_argument("--tied", action="store_true", help="share token_embd and output weights")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--checkpoint-dir", default=os.environ.get("CHECKPOINT_DIR", ""))
    p.add_argument("--checkpoint-every", type=int, default=50)
    p.add_argument("--keep-checkpoints", type=int, default=2)
    p.add_argument("--output", default="", help="the safetensors file rank 0 writes at the end")
    p.add_argument("--gguf", default="",
                   help="also convert the export to this GGUF (default output: <gguf>.safetensors)")
    p.add_argument("--name", default="sloughgpt-trained")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads per rank (CPU)")
    p.add_argument("--exit-at-step", type=int, default=0,
                   help="testing: on the first attempt, exit once this step is checkpointed")
    p.add_argument("--exit-code", type=int, default=137)
    return p.parse_args(argv)


def log(**fields):
    print(json.dumps(fields), flush=True)


def load_corpus(path: str) -> torch.Tensor:
    files = sorted(glob.glob(os.path.join(path, "*.txt"))) if os.path.isdir(path) else [path]
    if not files:
        raise SystemExit(f"no corpus files in {path}")
    return torch.cat([encode(open(f, "rb").read()) for f in files])


def batch(data: torch.Tensor, seq_len: int, size: int, gen: torch.Generator) -> torch.Tensor:
    starts = torch.randint(0, len(data) - seq_len, (size,), generator=gen)
    windows = torch.stack([data[s : s + seq_len] for s in starts.tolist()])
    # Every window starts with <s>, as llama.cpp's prompts do (add_bos_token).
    return torch.cat([torch.full((size, 1), BOS, dtype=torch.long), windows], dim=1)


def loss_on(model, ids):
    logits = model(ids[:, :-1])
    return F.cross_entropy(logits.reshape(-1, VOCAB_SIZE), ids[:, 1:].reshape(-1))


def latest_checkpoint(directory: str):
    paths = sorted(glob.glob(os.path.join(directory, CHECKPOINT_PATTERN))) if directory else []
    return paths[-1] if paths else None


def save_checkpoint(directory: str, state: dict, keep: int):
    os.makedirs(directory, exist_ok=True)
    final = os.path.join(directory, f"ckpt-{state['step']:08d}.pt")
    tmp = f"{final}.tmp-{os.getpid()}"
    torch.save(state, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, final)
    for old in sorted(glob.glob(os.path.join(directory, CHECKPOINT_PATTERN)))[:-keep]:
        os.remove(old)


def write_safetensors(path: str, tensors, metadata: dict):
    """safetensors: u64 LE header length, JSON header, raw little-endian float32 data."""
    header, chunks, offset = {"__metadata__": {k: str(v) for k, v in metadata.items()}}, [], 0
    for name, t in tensors:
        data = t.detach().to(torch.float32).contiguous().cpu().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for chunk in chunks:
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def env_int(*names, default=None):
    for name in names:
        if os.environ.get(name):
            return int(os.environ[name])
    return default


def setup_distributed():
    world = env_int("WORLD_SIZE", default=1)
    rank = env_int("RANK", "NODE_RANK", default=0)
    cuda = torch.cuda.is_available()
    device = torch.device(f"cuda:{env_int('LOCAL_RANK', default=0)}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world > 1:
        dist.init_process_group("nccl" if cuda else "gloo", init_method="env://", rank=rank, world_size=world)
    return rank, world, device


def model_config(args):
    return {"embd": args.embd, "layers": args.layers, "heads": args.heads, "kv_heads": args.kv_heads,
            "ff": args.ff, "context_length": args.context_length, "rms_eps": 1e-5, "tied": args.tied}


def train(args):
    rank, world, device = setup_distributed()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cfg = model_config(args)
    model = TinyLlama(cfg).to(device)
    optim = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    data = load_corpus(args.corpus)
    held_out = batch(data, args.seq_len, 16, torch.Generator().manual_seed(args.seed + 999_983)).to(device)
    state = {"step": 0, "initial_eval_loss": None}
    resumed_from = latest_checkpoint(args.checkpoint_dir)
    if resumed_from:
        saved = torch.load(resumed_from, map_location=device)
        model.load_state_dict(saved["model"])
        optim.load_state_dict(saved["optim"])
        state = {"step": saved["step"], "initial_eval_loss": saved["initial_eval_loss"]}
    if state["initial_eval_loss"] is None:
        state["initial_eval_loss"] = evaluate(model, held_out)
    ddp = DistributedDataParallel(model) if world > 1 else model
    attempt = env_int("SLOUGHGPT_RESTART_COUNT", default=0)
    log(event="started", rank=rank, world_size=world, attempt=attempt, step=state["step"],
        resumed_from=resumed_from, initial_eval_loss=state["initial_eval_loss"])
    while state["step"] < args.steps:
        step = state["step"]
        lr = args.lr * min(1.0, (step + 1) / 20) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / args.steps)))
        for group in optim.param_groups:
            group["lr"] = lr
        # Each (step, rank) has its own batch, so a resumed run sees the data it would have seen.
        gen = torch.Generator().manual_seed(args.seed * 1_000_003 + step * 1009 + rank)
        loss = loss_on(ddp, batch(data, args.seq_len, args.batch_size, gen).to(device))
        optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
        state["step"] = step + 1
        if state["step"] % 10 == 0 or state["step"] == 1:
            log(event="step", rank=rank, step=state["step"], loss=round(loss.item(), 4), lr=round(lr, 6))
        checkpoint(args, rank, model, optim, state, attempt)
    final = evaluate(model, held_out)
    log(event="finished", rank=rank, step=state["step"], initial_eval_loss=state["initial_eval_loss"],
        final_eval_loss=final)
    if rank == 0 and (args.output or args.gguf):
        export(args, model, cfg, state["initial_eval_loss"], final)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


def checkpoint(args, rank, model, optim, state, attempt):
    step = state["step"]
    due = args.checkpoint_dir and (step % args.checkpoint_every == 0 or step == args.steps)
    if due and rank == 0:
        save_checkpoint(args.checkpoint_dir, {"model": model.state_dict(), "optim": optim.state_dict(), **state},
                        args.keep_checkpoints)
        log(event="checkpoint", rank=rank, step=step)
    if due and attempt == 0 and step == args.exit_at_step:
        if dist.is_initialized():
            dist.barrier()
        log(event="exiting", rank=rank, step=step, exit_code=args.exit_code)
        os._exit(args.exit_code)


@torch.no_grad()
def evaluate(model, ids) -> float:
    model.eval()
    loss = loss_on(model, ids).item()
    model.train()
    return round(loss, 4)


def export(args, model, cfg, initial, final):
    metadata = {"format": "sloughgpt-trainer", "version": 1, "vocab": VOCAB_NAME, "name": args.name,
                "architecture": "llama", "embedding_length": cfg["embd"], "block_count": cfg["layers"],
                "feed_forward_length": cfg["ff"], "head_count": cfg["heads"],
                "head_count_kv": cfg["kv_heads"], "context_length": cfg["context_length"],
                "rms_eps": cfg["rms_eps"], "steps": args.steps, "initial_eval_loss": initial,
                "final_eval_loss": final}
    output = args.output or f"{args.gguf}.safetensors"
    write_safetensors(output, list(model.gguf_tensors()), metadata)
    log(event="exported", path=output)
    if args.gguf:
        convert_to_gguf(output, args.gguf)


def convert_to_gguf(weights: str, gguf: str):
    """The GGUF layout lives once, in TypeScript (libs/gguf); the converter is its command-line tool."""
    root = os.environ.get("SLOUGHGPT_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../../.."))
    command = [os.environ.get("NODE", "node"), "--import", "tsx", "tools/tiny-model/src/from-trainer-main.ts",
               os.path.abspath(weights), os.path.abspath(gguf)]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"GGUF conversion failed ({result.returncode}): {result.stderr.strip()}")
    log(event="converted", path=gguf, message=result.stdout.strip())


if __name__ == "__main__":
    started = time.time()
    train(parse_args(sys.argv[1:]))
    log(event="done", seconds=round(time.time() - started, 1))

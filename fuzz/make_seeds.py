#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into OUT/<target>/, generated from the real files in
DATA (shared/data) and from small hand-made inputs. Run by scripts/fuzz.sh; nothing it writes
belongs in the source tree."""

import json
import pathlib
import struct
import sys


def write(out, target, name, data):
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data.encode() if isinstance(data, str) else data)


# --- safetensors -------------------------------------------------------------------------------

DTYPE_BYTES = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
               "U8": 1, "BOOL": 1}


def read_safetensors(path):
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    meta = header.pop("__metadata__", None)
    tensors = {k: (v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]])
               for k, v in header.items()}
    return tensors, meta


def safetensors(tensors, meta=None):
    """tensors: {name: (dtype, shape, bytes)} in file order."""
    header, blob = {}, b""
    if meta is not None:
        header["__metadata__"] = meta
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + blob


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def filled(dtype, shape, value=0x3C):
    return bytes([value]) * (numel(shape) * DTYPE_BYTES[dtype])


# --- GGUF --------------------------------------------------------------------------------------

U32, I32, F32, BOOL, STR, ARR, U64 = 4, 5, 6, 7, 8, 9, 10


def gguf_str(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf_value(kind, value):
    if kind == U32:
        return struct.pack("<I", value)
    if kind == I32:
        return struct.pack("<i", value)
    if kind == F32:
        return struct.pack("<f", value)
    if kind == BOOL:
        return struct.pack("<B", value)
    if kind == U64:
        return struct.pack("<Q", value)
    if kind == STR:
        return gguf_str(value)
    elem, items = value
    return struct.pack("<IQ", elem, len(items)) + b"".join(gguf_value(elem, v) for v in items)


GGML_BYTES = {0: (1, 4), 1: (1, 2), 2: (32, 18), 8: (32, 34)}  # type: (block elements, bytes)


def gguf(metadata, tensors, alignment=32):
    """metadata: [(key, kind, value)]; tensors: [(name, torch shape, ggml type)]."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata))
    for key, kind, value in metadata:
        out += gguf_str(key) + struct.pack("<I", kind) + gguf_value(kind, value)
    offset, blobs = 0, []
    for name, shape, kind in tensors:
        out += gguf_str(name) + struct.pack("<I", len(shape))
        out += b"".join(struct.pack("<Q", d) for d in reversed(shape))
        out += struct.pack("<IQ", kind, offset)
        block, size = GGML_BYTES[kind]
        nbytes = numel(shape) // block * size
        blob = bytes([0x11]) * nbytes + b"\0" * (-nbytes % alignment)
        blobs.append(blob)
        offset += len(blob)
    out += b"\0" * (-len(out) % alignment)
    return out + b"".join(blobs)


# --- a tiny LLaMA for the export seeds ---------------------------------------------------------

HIDDEN, FFN, HEADS, KV_HEADS, VOCAB = 32, 64, 4, 2, 32
TINY_CONFIG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
               "hidden_size": HIDDEN, "intermediate_size": FFN, "num_hidden_layers": 1,
               "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS, "vocab_size": VOCAB,
               "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
               "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2}
HEAD_DIM = HIDDEN // HEADS
LINEARS = {"self_attn.q_proj": [HIDDEN, HIDDEN], "self_attn.k_proj": [KV_HEADS * HEAD_DIM, HIDDEN],
           "self_attn.v_proj": [KV_HEADS * HEAD_DIM, HIDDEN], "self_attn.o_proj": [HIDDEN, HIDDEN],
           "mlp.gate_proj": [FFN, HIDDEN], "mlp.up_proj": [FFN, HIDDEN],
           "mlp.down_proj": [HIDDEN, FFN]}
GGUF_LINEAR = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
               "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
               "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}


def tiny_dense(skip=()):
    t = {"model.embed_tokens.weight": ("F16", [VOCAB, HIDDEN])}
    for linear, shape in LINEARS.items():
        if "model.layers.0." + linear not in skip:
            t["model.layers.0." + linear + ".weight"] = ("F16", shape)
    t["model.layers.0.input_layernorm.weight"] = ("F16", [HIDDEN])
    t["model.layers.0.post_attention_layernorm.weight"] = ("F16", [HIDDEN])
    t["model.norm.weight"] = ("F16", [HIDDEN])
    t["lm_head.weight"] = ("F16", [VOCAB, HIDDEN])
    return {k: (d, s, filled(d, s)) for k, (d, s) in t.items()}


def gptq_tensors(bits=4, group=16):
    t = {}
    for linear, (d_out, d_in) in LINEARS.items():
        name, groups = "model.layers.0." + linear, d_in // group
        t[name + ".qweight"] = ("I32", [d_in * bits // 32, d_out])
        t[name + ".qzeros"] = ("I32", [groups, d_out * bits // 32])
        t[name + ".scales"] = ("F16", [groups, d_out])
        t[name + ".g_idx"] = ("I32", [d_in])
    out = {k: (d, s, filled(d, s, 0x21)) for k, (d, s) in t.items()}
    for linear, (_, d_in) in LINEARS.items():
        idx = b"".join(struct.pack("<i", i // group) for i in range(d_in))
        out["model.layers.0." + linear + ".g_idx"] = ("I32", [d_in], idx)
    return out


def archive(files):
    """The fuzz_export_reader input: [id][u32 size][bytes] per file."""
    ids = ["config.json", "model.safetensors", "adapter/adapter_config.json",
           "adapter/adapter_model.safetensors", "model.gguf", "adapter.gguf",
           "rankscope_export.json"]
    out = b""
    for name, data in files.items():
        data = data.encode() if isinstance(data, str) else data
        out += struct.pack("<BI", ids.index(name), len(data)) + data
    return out


def export_seeds(out):
    config = json.dumps(TINY_CONFIG)
    dense = tiny_dense()
    write(out, "fuzz_export_reader", "merged", archive(
        {"config.json": config, "model.safetensors": safetensors(dense),
         "rankscope_export.json": '{"format":"merged"}'}))

    gptq_config = dict(TINY_CONFIG, quantization_config={
        "quant_method": "gptq", "bits": 4, "group_size": 16, "desc_act": False, "sym": True,
        "checkpoint_format": "gptq"})
    model = {k: v for k, v in tiny_dense(skip=["model.layers.0." + l for l in LINEARS]).items()}
    model.update(gptq_tensors())
    lora = {}
    for linear in ("self_attn.q_proj", "mlp.down_proj"):
        d_out, d_in = LINEARS[linear]
        base = "base_model.model.model.layers.0." + linear
        lora[base + ".lora_A.weight"] = ("F32", [4, d_in], filled("F32", [4, d_in]))
        lora[base + ".lora_B.weight"] = ("F32", [d_out, 4], filled("F32", [d_out, 4]))
    write(out, "fuzz_export_reader", "gptq_peft", archive(
        {"config.json": json.dumps(gptq_config), "model.safetensors": safetensors(model),
         "adapter/adapter_config.json": json.dumps(
             {"peft_type": "LORA", "r": 4, "lora_alpha": 8,
              "rank_pattern": {"model.layers.0.mlp.down_proj": 4}}),
         "adapter/adapter_model.safetensors": safetensors(lora)}))

    factored = "model.layers.0.mlp.up_proj"
    fact_config = dict(TINY_CONFIG, rankscope_factorization={"ranks": {factored: 4}})
    model = tiny_dense(skip=[factored])
    model[factored + ".low_rank.0.weight"] = ("F16", [4, HIDDEN], filled("F16", [4, HIDDEN]))
    model[factored + ".low_rank.1.weight"] = ("F16", [FFN, 4], filled("F16", [FFN, 4]))
    write(out, "fuzz_export_reader", "factorized", archive(
        {"config.json": json.dumps(fact_config), "model.safetensors": safetensors(model)}))

    meta = [("general.architecture", STR, "llama"), ("general.name", STR, "tiny"),
            ("llama.block_count", U32, 1), ("llama.embedding_length", U32, HIDDEN),
            ("llama.feed_forward_length", U32, FFN), ("llama.attention.head_count", U32, HEADS),
            ("llama.attention.head_count_kv", U32, KV_HEADS),
            ("tokenizer.ggml.model", STR, "llama"),
            ("tokenizer.ggml.tokens", ARR, (STR, ["t%d" % i for i in range(VOCAB)])),
            ("tokenizer.ggml.scores", ARR, (F32, [0.0] * VOCAB)),
            ("tokenizer.ggml.token_type", ARR, (I32, [1] * VOCAB))]
    tensors = [("token_embd.weight", [VOCAB, HIDDEN], 1)]
    for linear, shape in LINEARS.items():
        tensors.append(("blk.0.%s.weight" % GGUF_LINEAR[linear], shape,
                        8 if linear.startswith("self") else 2))
    tensors += [("blk.0.attn_norm.weight", [HIDDEN], 0), ("blk.0.ffn_norm.weight", [HIDDEN], 0),
                ("output_norm.weight", [HIDDEN], 0), ("output.weight", [VOCAB, HIDDEN], 1)]
    adapter_meta = [("general.architecture", STR, "llama"), ("general.type", STR, "adapter"),
                    ("adapter.type", STR, "lora"), ("adapter.lora.alpha", F32, 8.0)]
    adapter = [("blk.0.attn_q.weight.lora_a", [4, HIDDEN], 0),
               ("blk.0.attn_q.weight.lora_b", [HIDDEN, 4], 0)]
    write(out, "fuzz_export_reader", "gguf", archive(
        {"config.json": config, "model.gguf": gguf(meta, tensors),
         "adapter.gguf": gguf(adapter_meta, adapter)}))
    write(out, "fuzz_gguf", "tiny_model.gguf", gguf(meta, tensors))
    write(out, "fuzz_gguf", "tiny_adapter.gguf", gguf(adapter_meta, adapter))


# --- tokenizers --------------------------------------------------------------------------------

def llama2c_pieces(path, count):
    raw = path.read_bytes()
    at, pieces = 4, []
    while at < len(raw) and len(pieces) < count:
        score, n = struct.unpack("<fi", raw[at:at + 8])
        pieces.append((score, raw[at + 8:at + 8 + n]))
        at += 8 + n
    return raw[:4], pieces


def llama2c_file(max_len, pieces):
    return max_len + b"".join(struct.pack("<fi", s, len(p)) + p for s, p in pieces)


def tokenizer_seeds(out, data):
    tok512 = (data / "llama2c/tok512.bin").read_bytes()
    write(out, "fuzz_llama2c_tokenizer", "tok512_whole", b"\0" + tok512)
    write(out, "fuzz_llama2c_tokenizer", "tok512_512", bytes([128]) + tok512)
    max_len, pieces = llama2c_pieces(data / "tokenizers/llama2/tokenizer.bin", 400)
    write(out, "fuzz_llama2c_tokenizer", "llama2_400", b"\0" + llama2c_file(max_len, pieces))

    # Byte-level BPE (GPT-2) from the first entries of vocab.json and merges.txt.
    vocab = json.loads((data / "tokenizers/gpt2/vocab.json").read_text())
    merges = (data / "tokenizers/gpt2/merges.txt").read_text().splitlines()[1:300]
    keep = {k: v for k, v in vocab.items() if v < 600}
    merges = [m for m in merges if all(p in keep for p in m.split(" ")) and "".join(m.split(" ")) in keep]
    gpt2 = {"version": "1.0", "added_tokens": [
                {"id": 599, "content": "<|endoftext|>", "special": True}],
            "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
            "decoder": {"type": "ByteLevel"},
            "model": {"type": "BPE", "vocab": keep, "merges": merges}}
    write(out, "fuzz_tokenizer_json", "gpt2_bytelevel.json", json.dumps(gpt2))

    # SentencePiece-style BPE with byte fallback, from llama2.c's tok512 pieces.
    _, pieces = llama2c_pieces(data / "llama2c/tok512.bin", 512)
    vocab = {}
    for i, (_, p) in enumerate(pieces):
        text = p.decode("utf-8", "replace").replace(" ", "\u2581")
        vocab.setdefault(text, i)
    sp_merges = []
    for piece in vocab:
        for cut in range(1, len(piece)):
            if piece[:cut] in vocab and piece[cut:] in vocab:
                sp_merges.append(piece[:cut] + " " + piece[cut:])
                break
    sp = {"version": "1.0",
          "added_tokens": [{"id": 0, "content": "<unk>", "special": True},
                           {"id": 1, "content": "<s>", "special": True},
                           {"id": 2, "content": "</s>", "special": True}],
          "normalizer": {"type": "Sequence", "normalizers": [
              {"type": "Prepend", "prepend": "\u2581"},
              {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
          "pre_tokenizer": None,
          "decoder": {"type": "Sequence", "decoders": [
              {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
              {"type": "ByteFallback"}, {"type": "Fuse"},
              {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
          "model": {"type": "BPE", "byte_fallback": True, "unk_token": "<unk>",
                    "fuse_unk": True, "vocab": vocab, "merges": sp_merges[:400]}}
    write(out, "fuzz_tokenizer_json", "sentencepiece_style.json", json.dumps(sp))

    # tokenizer.model cut to its first pieces (the protobuf's repeated field 1), other fields kept.
    write(out, "fuzz_sentencepiece_model", "llama2_300.model",
          shortened_model((data / "tokenizers/llama2/tokenizer.model").read_bytes(), 300))


def varint(raw, at):
    value, shift = 0, 0
    while True:
        b = raw[at]
        value |= (b & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if b < 0x80:
            return value, at


def shortened_model(raw, count):
    out, at, pieces = b"", 0, 0
    while at < len(raw):
        start = at
        tag, at = varint(raw, at)
        wire = tag & 7
        if wire == 2:
            n, at = varint(raw, at)
            at += n
        elif wire == 0:
            _, at = varint(raw, at)
        elif wire == 5:
            at += 4
        elif wire == 1:
            at += 8
        if tag >> 3 == 1:
            pieces += 1
            if pieces > count:
                continue
        out += raw[start:at]
    return out


# --- model files -------------------------------------------------------------------------------

def model_seeds(out, data):
    model_dir = data / "models/stories260K"
    config = json.loads((model_dir / "config.json").read_text())
    write(out, "fuzz_hf_config", "stories260K.json", json.dumps(config, indent=2))
    write(out, "fuzz_hf_config", "tiny.json", json.dumps(TINY_CONFIG))
    write(out, "fuzz_hf_config", "mistral.json", json.dumps(dict(
        config, model_type="mistral", sliding_window=256, tie_word_embeddings=False)))
    write(out, "fuzz_hf_config", "qwen2.json", json.dumps(dict(
        config, model_type="qwen2", rope_scaling={"type": "linear", "factor": 2.0})))

    tensors, meta = read_safetensors(model_dir / "model.safetensors")
    small = {k: v for k, v in tensors.items() if numel(v[1]) <= 64}
    write(out, "fuzz_safetensors", "stories260K_norms.safetensors", safetensors(small, meta))
    mixed = dict(list(small.items())[:3])
    mixed["i8"] = ("I8", [2, 3], bytes(range(6)))
    mixed["bf16"] = ("BF16", [4], filled("BF16", [4]))
    mixed["bool"] = ("BOOL", [3], b"\x00\x01\x00")
    mixed["empty"] = ("F32", [0, 5], b"")
    write(out, "fuzz_safetensors", "mixed_dtypes.safetensors", safetensors(mixed))

    names = list(tensors)
    index = {"metadata": {"total_size": 24}, "weight_map": {
        "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
        "model.norm.weight": "model-00001-of-00002.safetensors",
        "lm_head.weight": "model-00002-of-00002.safetensors"}}
    write(out, "fuzz_shard_index", "two_shards.json", json.dumps(index, indent=2))
    real = {"metadata": {"total_size": 1040000},
            "weight_map": {n: "model-0000%d-of-00002.safetensors" % (1 + i % 2)
                           for i, n in enumerate(names[:6])}}
    write(out, "fuzz_shard_index", "stories260K_names.json", json.dumps(real, indent=2))

    header = (data / "llama2c/stories260K.bin").read_bytes()[:28]
    write(out, "fuzz_llama2c_header", "stories260K_header", header + b"\0" + b"\x3c" * 64)
    tiny = struct.pack("<7i", HIDDEN, FFN, 1, HEADS, KV_HEADS, VOCAB, 64)
    write(out, "fuzz_llama2c_header", "tiny_header", tiny + b"\0")
    untied = struct.pack("<7i", HIDDEN, FFN, 1, HEADS, KV_HEADS, -VOCAB, 64)
    write(out, "fuzz_llama2c_header", "tiny_untied_header", untied + b"\0")


# --- typed values ------------------------------------------------------------------------------

def typed_seeds(out):
    for i, text in enumerate(["4, 8,16", "12000, 4.5%, 3.25bpw, r8", "1.5,99.9", "-1,32,64,128",
                              "0.5%", "r16,2.5bpw", " 7 "]):
        write(out, "fuzz_lists", "list%d" % i, text)
    for i, text in enumerate(["rtn:bits=3,group=32", "gptq:bits=4,group=128,sym=true", "q4_0",
                              "wanda:sparsity=0.5,nm=2:4", "magnitude:bits=4", "svd", "eora",
                              "asvd", "lord-weight:allocation=optimal,factor_bits=8",
                              "lillama:steps=10,lr=0.001,batch=2", "none"]):
        write(out, "fuzz_method_spec", "spec%d" % i, text)
    for i, text in enumerate(["down_proj=64", "layers\\.0\\..*=16:32\n!o_proj",
                              "q_proj=8\nk_proj=8\n!mlp\\.(gate|up)_proj", "(a|b)*=4"]):
        write(out, "fuzz_overrides", "rules%d" % i, bytes([i * 37]) + text.encode())


def main():
    data, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    typed_seeds(out)
    model_seeds(out, data)
    tokenizer_seeds(out, data)
    export_seeds(out)


if __name__ == "__main__":
    main()

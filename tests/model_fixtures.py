"""Model files for the tests and the benchmark: malicious ones from raw opcodes, benign ones
from the real libraries.

Every malicious file is written byte by byte from pickle opcodes (never by pickling a live
object), and nothing here or in the tests ever loads one. The payloads would only run
``echo`` with :data:`PAYLOAD_MARKER`, so a test can also check that no payload text ever
reaches the store.
"""

from __future__ import annotations

import gzip
import io
import json
import pickle
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PAYLOAD_MARKER = "aiposture-payload-7f3c9e"
CMD = f"echo {PAYLOAD_MARKER}"

# --- opcode helpers -----------------------------------------------------------------------


def proto(n: int) -> bytes:
    return b"\x80" + bytes([n])


def su(s: str) -> bytes:
    """SHORT_BINUNICODE."""
    raw = s.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def bu(s: str) -> bytes:
    """BINUNICODE."""
    raw = s.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def glob(module: str, name: str) -> bytes:
    """GLOBAL."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def stack_global(module: str, name: str) -> bytes:
    return su(module) + su(name) + b"\x93"


def call1(func: bytes, arg: bytes) -> bytes:
    """func(arg) with TUPLE1 + REDUCE."""
    return func + arg + b"\x85R"


def call2(func: bytes, a: bytes, b: bytes) -> bytes:
    return func + a + b + b"\x86R"


STOP = b"."
EMPTY_DICT = b"}"


def frame(body: bytes) -> bytes:
    """A protocol 4 stream with one FRAME around ``body`` (which ends with STOP)."""
    return proto(4) + b"\x95" + struct.pack("<Q", len(body)) + body


# --- malicious pickles ------------------------------------------------------------------------


@dataclass(frozen=True)
class Malicious:
    """One malicious pickle stream and the names a scanner must report for it."""

    name: str
    data: bytes
    offending: frozenset[str]
    trick: str


def _payloads() -> list[Malicious]:
    cmd0 = f"S'{CMD}'\n".encode()
    out = [
        Malicious(
            "os_system_global_p0",
            b"cos\nsystem\n(" + cmd0 + b"tR.",
            frozenset({"os.system"}),
            "GLOBAL os.system, protocol 0",
        ),
        Malicious(
            "posix_system_global_p2",
            proto(2) + call1(glob("posix", "system"), bu(CMD)) + STOP,
            frozenset({"posix.system"}),
            "GLOBAL posix.system, protocol 2",
        ),
        Malicious(
            "os_system_stack_global_memo",
            # push the names, memoize them, drop them, then fetch them back from the memo
            frame(
                su("os")
                + b"\x94"
                + su("system")
                + b"\x94"
                + b"00"
                + b"h\x00h\x01\x93"
                + su(CMD)
                + b"\x85R."
            ),
            frozenset({"os.system"}),
            "STACK_GLOBAL with MEMOIZE/BINGET indirection",
        ),
        Malicious(
            "subprocess_stack_global_long_memo",
            proto(4)
            + su("subprocess")
            + b"r\xe8\x03\x00\x00"
            + su("check_output")
            + b"r\x39\x05\x00\x00"
            + b"00"
            + b"j\xe8\x03\x00\x00j\x39\x05\x00\x00\x93"
            + b"("
            + su("sh")
            + su("-c")
            + su(CMD)
            + b"l\x85R.",
            frozenset({"subprocess.check_output"}),
            "STACK_GLOBAL through LONG_BINPUT/LONG_BINGET",
        ),
        Malicious(
            "importlib_import_module",
            proto(2)
            + glob("builtins", "getattr")
            + call1(glob("importlib", "import_module"), bu("os"))
            + bu("system")
            + b"\x86R"
            + bu(CMD)
            + b"\x85R.",
            frozenset({"importlib.import_module", "builtins.getattr", "os.system"}),
            "importlib.import_module('os') then getattr(..., 'system')",
        ),
        Malicious(
            "operator_methodcaller",
            proto(2)
            + call2(glob("operator", "methodcaller"), bu("system"), bu(CMD))
            + call1(glob("builtins", "__import__"), bu("os"))
            + b"\x85R.",
            frozenset({"operator.methodcaller", "builtins.__import__", "os.system"}),
            "operator.methodcaller('system', cmd)(__import__('os'))",
        ),
        Malicious(
            "operator_attrgetter",
            proto(2)
            + call1(glob("operator", "attrgetter"), bu("system"))
            + call1(glob("builtins", "__import__"), bu("os"))
            + b"\x85R"
            + bu(CMD)
            + b"\x85R.",
            frozenset({"operator.attrgetter", "builtins.__import__", "os.system"}),
            "operator.attrgetter('system')(__import__('os'))(cmd)",
        ),
        Malicious(
            "builtins_getattr_chain",
            # getattr(getattr(collections.OrderedDict, '__init__'), '__globals__'): an
            # allowlisted class used as a springboard
            proto(2)
            + glob("builtins", "getattr")
            + glob("builtins", "getattr")
            + glob("collections", "OrderedDict")
            + bu("__init__")
            + b"\x86R"
            + bu("__globals__")
            + b"\x86R.",
            frozenset(
                {
                    "builtins.getattr",
                    "collections.OrderedDict.__init__",
                    "collections.OrderedDict.__init__.__globals__",
                }
            ),
            "builtins.getattr chain from an allowlisted class",
        ),
        Malicious(
            "commands_popen_p2",
            proto(2) + call1(glob("commands", "Popen"), bu(CMD)) + STOP,
            frozenset({"subprocess.Popen"}),
            "commands.Popen (Python 2 name of subprocess.Popen), protocol 2",
        ),
        Malicious(
            "builtin_eval_p1",
            b"c__builtin__\neval\n(X" + struct.pack("<I", len(CMD)) + CMD.encode() + b"tR.",
            frozenset({"builtins.eval"}),
            "__builtin__.eval, protocol 1",
        ),
        Malicious(
            "builtins_exec_stack_global",
            frame(stack_global("builtins", "exec") + su(f"print('{PAYLOAD_MARKER}')") + b"\x85R."),
            frozenset({"builtins.exec"}),
            "builtins.exec via STACK_GLOBAL",
        ),
        Malicious(
            "inst_subprocess",
            b"(S'" + CMD.encode() + b"'\nisubprocess\ncheck_call\n.",
            frozenset({"subprocess.check_call"}),
            "INST opcode",
        ),
        Malicious(
            "obj_os_system",
            b"(cos\nsystem\n" + cmd0 + b"o.",
            frozenset({"os.system"}),
            "OBJ opcode",
        ),
        Malicious(
            "runpy_run_path",
            proto(2) + call1(glob("runpy", "run_path"), bu("/tmp/x.py")) + STOP,
            frozenset({"runpy.run_path"}),
            "runpy",
        ),
        Malicious(
            "webbrowser_open",
            proto(3) + call1(glob("webbrowser", "open"), bu("http://127.0.0.1/")) + STOP,
            frozenset({"webbrowser.open"}),
            "webbrowser",
        ),
        Malicious(
            "unresolved_stack_global",
            # the module name is the result of a call: only running the pickle tells it
            frame(call1(stack_global("builtins", "str"), su("os")) + su("system") + b"\x93."),
            frozenset({"<unresolved STACK_GLOBAL>"}),
            "STACK_GLOBAL with computed operands",
        ),
        Malicious(
            "numpy_testing_runstring",
            proto(2)
            + call2(
                glob("numpy.testing._private.utils", "runstring"),
                bu(f"print('{PAYLOAD_MARKER}')"),
                b"}",
            )
            + STOP,
            frozenset({"numpy.testing._private.utils.runstring"}),
            "exec hidden in a numpy helper",
        ),
        Malicious(
            "payload_inside_state_dict",
            # an ordinary-looking OrderedDict whose second value is the payload
            proto(2)
            + glob("collections", "OrderedDict")
            + b")R"
            + b"("
            + bu("weight")
            + b"K\x01"
            + bu("bias")
            + call1(glob("os", "system"), bu(CMD))
            + b"u.",
            frozenset({"os.system"}),
            "payload nested in a state dict",
        ),
        Malicious(
            "unknown_module_hook",
            proto(2) + call1(glob("mypkg.hooks", "setup"), bu("x")) + STOP,
            frozenset({"mypkg.hooks.setup"}),
            "an unknown module (not on the allowlist)",
        ),
    ]
    return out


MALICIOUS_PICKLES: list[Malicious] = _payloads()

# --- containers for malicious payloads ---------------------------------------------------------


def torch_zip_bytes(data_pkl: bytes, *, root: str = "archive", storages: int = 1) -> bytes:
    """A PyTorch zip archive (the layout torch.save writes) with ``data_pkl`` as its pickle."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{root}/data.pkl", data_pkl)
        z.writestr(f"{root}/.format_version", b"1")
        z.writestr(f"{root}/byteorder", b"little")
        for i in range(storages):
            z.writestr(f"{root}/data/{i}", b"\x00" * 64)
        z.writestr(f"{root}/version", b"3\n")
    return buf.getvalue()


def legacy_torch_bytes(main_pickle: bytes) -> bytes:
    """PyTorch's legacy (non-zip) format: magic, protocol, sys info, main pickle, keys."""
    magic = proto(2) + b"\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19" + STOP
    version = proto(2) + b"M\xe9\x03" + STOP
    sys_info = (
        proto(2) + b"}(" + bu("protocol_version") + b"M\xe9\x03" + bu("little_endian") + b"\x88u."
    )
    keys = proto(2) + b"]." + struct.pack("<Q", 0)
    return magic + version + sys_info + main_pickle + keys


def joblib_with_array_then(
    payload_call: bytes, *, data: bytes = b"." * 32, protocol: int = 4
) -> bytes:
    """A joblib stream: a dict holding a float64 array (raw bytes interleaved after its
    wrapper, as joblib.dump writes them), then a malicious value.

    The default array bytes are all ``.`` (the STOP opcode): a scanner that walks the raw
    bytes as opcodes stops there and never sees the payload.
    """
    n = len(data) // 8
    wrapper = (
        stack_global("joblib.numpy_pickle", "NumpyArrayWrapper")
        + b")\x81"
        + b"}("
        + su("subclass")
        + stack_global("numpy", "ndarray")
        + su("shape")
        + b"K"
        + bytes([n])
        + b"\x85"
        + su("order")
        + su("C")
        + su("dtype")
        + stack_global("numpy", "dtype")
        + su("f8")
        + b"\x89\x88\x87R"
        + b"(K\x03"
        + su("<")
        + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
        + su("allow_mmap")
        + b"\x88"
        + su("numpy_array_alignment_bytes")
        + b"K\x10"
        + b"ub"
    )
    head = proto(protocol) + b"}(" + su("coef") + wrapper
    pos = len(head)
    pad = 16 - ((pos + 1) % 16)
    body = head + bytes([pad]) + b"\xff" * pad + data
    return body + su("hook") + payload_call + b"u."


# --- writing the sets --------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """A file written to disk and the names that must be reported for it (empty: benign)."""

    path: Path
    offending: frozenset[str]
    kind: str


def write_malicious(folder: Path) -> list[Sample]:
    """Write the malicious set: each trick as a plain pickle, many inside PyTorch zips,
    legacy PyTorch files, joblib files (plain and compressed) and other containers."""
    folder.mkdir(parents=True, exist_ok=True)
    out: list[Sample] = []

    def put(name: str, data: bytes, offending: frozenset[str], kind: str) -> None:
        p = folder / name
        p.write_bytes(data)
        out.append(Sample(p, offending, kind))

    for m in MALICIOUS_PICKLES:
        put(f"{m.name}.pkl", m.data, m.offending, "pickle")
    by = {m.name: m for m in MALICIOUS_PICKLES}
    for name, ext in [
        ("os_system_global_p0", "pt"),
        ("os_system_stack_global_memo", "pth"),
        ("operator_methodcaller", "bin"),
        ("commands_popen_p2", "ckpt"),
        ("builtins_getattr_chain", "pt"),
        ("importlib_import_module", "pth"),
    ]:
        m = by[name]
        put(f"torchzip_{name}.{ext}", torch_zip_bytes(m.data), m.offending, "pytorch-zip")
    for name in ("posix_system_global_p2", "operator_attrgetter"):
        m = by[name]
        put(f"legacy_{name}.pt", legacy_torch_bytes(m.data), m.offending, "pytorch-legacy")
    os_call = call1(glob("os", "system"), bu(CMD))
    put(
        "joblib_array_then_os_system.joblib",
        joblib_with_array_then(os_call),
        frozenset({"os.system"}),
        "joblib",
    )
    methodcaller = (
        call2(glob("operator", "methodcaller"), bu("system"), bu(CMD))
        + call1(glob("builtins", "__import__"), bu("os"))
        + b"\x85R"
    )
    put(
        "joblib_array_then_methodcaller.joblib",
        joblib_with_array_then(methodcaller, data=b"\x00" * 800),
        frozenset({"operator.methodcaller", "os.system"}),
        "joblib",
    )
    popen = call1(glob("commands", "Popen"), bu(CMD))
    put(
        "joblib_zlib_commands_popen.joblib",
        # protocol 2 declared (joblib's opcodes still load): the unpickler maps the name
        zlib.compress(joblib_with_array_then(popen, protocol=2), 3),
        frozenset({"subprocess.Popen"}),
        "joblib",
    )
    put(
        "joblib_gzip_os_system.pkl.gz",
        gzip.compress(joblib_with_array_then(os_call), mtime=0),
        frozenset({"os.system"}),
        "joblib",
    )
    m = by["builtins_exec_stack_global"]
    put("pickle_named_model.bin", m.data, m.offending, "pickle")
    put(
        "npy_object_payload.npy",
        _npy_object(by["os_system_global_p0"].data),
        frozenset({"os.system"}),
        "numpy",
    )
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("models/README.md", "a model")
        z.writestr("models/model.pkl", by["subprocess_stack_global_long_memo"].data)
    put("bundle_with_pickle.zip", zbuf.getvalue(), frozenset({"subprocess.check_output"}), "zip")
    tbuf = io.BytesIO()
    with tarfile.open(fileobj=tbuf, mode="w:gz") as tf:
        inner = torch_zip_bytes(by["webbrowser_open"].data)
        info = tarfile.TarInfo("release/model.pt")
        info.size = len(inner)
        tf.addfile(info, io.BytesIO(inner))
    put("release_torch.tar.gz", tbuf.getvalue(), frozenset({"webbrowser.open"}), "tar")
    put(
        "keras_lambda.keras",
        _keras_zip(lambda_layer=True),
        frozenset({"keras Lambda layer 'evil'"}),
        "keras",
    )
    return out


def _npy_object(pickle_bytes: bytes) -> bytes:
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    pad = 64 - (10 + len(header) + 1) % 64
    h = (header + " " * pad + "\n").encode("latin-1")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + pickle_bytes


def _keras_zip(*, lambda_layer: bool) -> bytes:
    layers: list[dict[str, object]] = [
        {
            "module": "keras.layers",
            "class_name": "Dense",
            "config": {"name": "dense", "units": 4, "activation": "relu"},
            "registered_name": None,
        }
    ]
    if lambda_layer:
        layers.append(
            {
                "module": "keras.layers",
                "class_name": "Lambda",
                "config": {
                    "name": "evil",
                    "function": {
                        "class_name": "__lambda__",
                        "config": {"code": "4wEAAAAAAAAAAAAAAAEAAAADAAAA", "defaults": None},
                    },
                },
                "registered_name": None,
            }
        )
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": "sequential", "layers": layers},
        "registered_name": None,
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.6.0"}))
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 56)
    return buf.getvalue()


def gguf_bytes(*, tensors: int = 2, name: str = "tiny-llama", lie: bool = False) -> bytes:
    """A small GGUF v3 file written by hand: metadata, tensor infos, aligned F32 data."""

    def s(text: str) -> bytes:
        raw = text.encode()
        return struct.pack("<Q", len(raw)) + raw

    kv = [
        s("general.architecture") + struct.pack("<I", 8) + s("llama"),
        s("general.name") + struct.pack("<I", 8) + s(name),
        s("general.license") + struct.pack("<I", 8) + s("apache-2.0"),
        s("llama.context_length") + struct.pack("<I", 4) + struct.pack("<I", 2048),
        s("tokenizer.ggml.tokens")
        + struct.pack("<I", 9)
        + struct.pack("<I", 8)
        + struct.pack("<Q", 3)
        + s("<s>")
        + s("</s>")
        + s("hi"),
    ]
    infos = b""
    for i in range(tensors):
        infos += s(f"blk.{i}.weight") + struct.pack("<I", 2) + struct.pack("<QQ", 4, 4)
        infos += struct.pack("<I", 0 if i % 2 == 0 else 1) + struct.pack("<Q", i * 64)
    count = tensors * 1000 if lie else tensors
    head = (
        b"GGUF" + struct.pack("<I", 3) + struct.pack("<QQ", count, len(kv)) + b"".join(kv) + infos
    )
    pad = (-len(head)) % 32
    return head + b"\x00" * pad + b"\x00" * (64 * tensors)


# --- benign files, written by the real libraries --------------------------------------------


def write_benign(folder: Path, *, scale: int = 1) -> list[Sample]:
    """Write the benign set (numpy, torch, scikit-learn via joblib, safetensors, ONNX, GGUF).

    Args:
        folder: Where to write.
        scale: Multiplies array sizes (the benchmark writes larger files).
    """
    import joblib
    import numpy as np
    import torch
    from safetensors.numpy import save_file
    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.feature_selection import SelectKBest
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    folder.mkdir(parents=True, exist_ok=True)
    out: list[Sample] = []
    rng = np.random.default_rng(0)

    def add(name: str, kind: str, write: Callable[[Path], object]) -> None:
        p = folder / name
        write(p)
        out.append(Sample(p, frozenset(), kind))

    arr = rng.standard_normal((64 * scale, 32)).astype(np.float32)
    add("weights.npy", "numpy", lambda p: np.save(p, arr))
    add("arrays.npz", "npz", lambda p: np.savez_compressed(p, a=arr, b=np.arange(10)))
    add(
        "objects.npy",
        "numpy",
        lambda p: np.save(p, np.array([1, "a", None], dtype=object), allow_pickle=True),
    )
    for protocol in (2, 5):
        add(
            f"numpy_array_p{protocol}.pkl",
            "pickle",
            lambda p, protocol=protocol: p.write_bytes(
                pickle.dumps(
                    {"w": arr, "rs": np.random.RandomState(0), "x": np.float64(1.5)},
                    protocol=protocol,
                )
            ),
        )
    model = torch.nn.Sequential(
        torch.nn.Linear(32, 16 * scale), torch.nn.ReLU(), torch.nn.Linear(16 * scale, 2)
    )
    add("state_dict.pt", "pytorch-zip", lambda p: torch.save(model.state_dict(), p))
    add(
        "pytorch_model.bin",
        "pytorch-legacy",
        lambda p: torch.save(model.state_dict(), p, _use_new_zipfile_serialization=False),
    )
    opt = torch.optim.Adam(model.parameters())
    add(
        "checkpoint.ckpt",
        "pytorch-zip",
        lambda p: torch.save(
            {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, p
        ),
    )
    add("whole_model.pth", "pytorch-zip", lambda p: torch.save(model, p))
    X, y = make_classification(200 * scale, 8, random_state=0)
    rf = RandomForestClassifier(10, random_state=0).fit(X, y)
    hgb = HistGradientBoostingClassifier(max_iter=10).fit(X, y)
    pipe = make_pipeline(StandardScaler(), SelectKBest(k=4), LogisticRegression()).fit(X, y)
    add("forest.joblib", "joblib", lambda p: joblib.dump(rf, p))
    add("forest_zlib.joblib", "joblib", lambda p: joblib.dump(rf, p, compress=3))
    add("hgb_gzip.pkl.gz", "joblib", lambda p: joblib.dump(hgb, p, compress=("gzip", 3)))
    add("pipeline_xz.joblib", "joblib", lambda p: joblib.dump(pipe, p, compress=("xz", 3)))
    add("pipeline.pkl", "pickle", lambda p: p.write_bytes(pickle.dumps(pipe, protocol=4)))
    add(
        "model.safetensors",
        "safetensors",
        lambda p: save_file(
            {k: v.numpy() for k, v in model.state_dict().items()}, str(p), metadata={"format": "pt"}
        ),
    )
    add("model.onnx", "onnx", _write_onnx)
    add("tiny.gguf", "gguf", lambda p: p.write_bytes(gguf_bytes()))
    add("clean.keras", "keras", lambda p: p.write_bytes(_keras_zip(lambda_layer=False)))
    return out


def _write_onnx(path: Path) -> None:
    """A two-node ONNX model, written by the onnx package when it is installed, else by hand."""
    try:
        import onnx
        from onnx import TensorProto, helper
    except ImportError:
        path.write_bytes(onnx_bytes())
        return
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"]), helper.make_node("Relu", ["y"], ["z"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 2])],
        initializer=[helper.make_tensor("w", TensorProto.FLOAT, [2, 2], [1.0, 0.0, 0.0, 1.0])],
    )
    onnx.save(helper.make_model(graph, producer_name="aiposture-tests"), str(path))


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num: int, payload: bytes | int) -> bytes:
    if isinstance(payload, int):
        return _varint(num << 3) + _varint(payload)
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def onnx_bytes() -> bytes:
    """The same ONNX model as :func:`_write_onnx`, protobuf written by hand."""
    matmul = _field(1, b"x") + _field(1, b"w") + _field(2, b"y") + _field(4, b"MatMul")
    relu = _field(1, b"y") + _field(2, b"z") + _field(4, b"Relu")
    weight = (
        _field(1, 2)
        + _field(1, 2)
        + _field(2, 1)
        + _field(8, b"w")
        + _field(9, struct.pack("<4f", 1.0, 0.0, 0.0, 1.0))
    )
    graph = _field(1, matmul) + _field(1, relu) + _field(2, b"tiny") + _field(5, weight)
    return (
        _field(1, 8) + _field(2, b"aiposture-tests") + _field(7, graph) + _field(8, _field(2, 13))
    )


# --- bad input ---------------------------------------------------------------------------------


def write_bad_inputs(folder: Path, *, sparse_size: int = 2 * 1024**3) -> dict[str, Path]:
    """Files a scanner must record as errors without crashing: a pickle bomb, a truncated
    zip, a zip bomb, a safetensors file with a lying header, a sparse file of zeros."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    # pickle bomb: MARKs nested far past any sane depth
    bomb = folder / "bomb.pkl"
    bomb.write_bytes(proto(2) + b"(" * 200_000 + b"t" * 200_000 + STOP)
    out["pickle_bomb"] = bomb
    # truncated zip: a PyTorch archive cut in half
    trunc = folder / "truncated.pt"
    full = torch_zip_bytes(proto(2) + b"}.", storages=4)
    trunc.write_bytes(full[: len(full) // 2])
    out["truncated_zip"] = trunc
    # zip bomb: 256 MiB of zeros deflated into a few hundred KB
    zbomb = folder / "bomb.zip"
    chunk = b"\x00" * (1 << 20)
    with (
        zipfile.ZipFile(zbomb, "w", zipfile.ZIP_DEFLATED) as z,
        z.open("zeros.bin", "w", force_zip64=True) as m,
    ):
        for _ in range(256):
            m.write(chunk)
    out["zip_bomb"] = zbomb
    # safetensors whose header claims a tensor larger than the file
    lying = folder / "lying.safetensors"
    header = json.dumps(
        {"w": {"dtype": "F32", "shape": [1000, 1000], "data_offsets": [0, 4_000_000]}}
    ).encode()
    lying.write_bytes(struct.pack("<Q", len(header)) + header + b"\x00" * 16)
    out["lying_safetensors"] = lying
    # a 2 GB sparse file (no blocks on disk)
    sparse = folder / "sparse_model.bin"
    with open(sparse, "wb") as fh:
        fh.truncate(sparse_size)
    out["sparse"] = sparse
    return out

"""The static pickle analyser: every global resolved, decided by the allowlist, bounded.

Malicious streams come from raw opcodes (tests/model_fixtures.py); nothing here loads one.
"""

from __future__ import annotations

import io
import pickle
import struct
import time

import pytest

from aiposture.discovery.pickle_safety import (
    PickleLimits,
    PickleReader,
    analyse_pickle,
    analyse_pickles,
    load_safe_globals,
)
from aiposture.models import Severity
from model_fixtures import (
    MALICIOUS_PICKLES,
    Malicious,
    bu,
    call1,
    glob,
    joblib_with_array_then,
    proto,
    su,
)


def analyse(data: bytes, **kw: object) -> object:
    return analyse_pickle(io.BytesIO(data), **kw)  # type: ignore[arg-type]


def unsafe_names(data: bytes, **kw: object) -> set[str]:
    rep = analyse_pickle(io.BytesIO(data), **kw)  # type: ignore[arg-type]
    return {u.name for u in rep.unsafe}


@pytest.mark.parametrize("case", MALICIOUS_PICKLES, ids=lambda m: m.name)
def test_every_malicious_trick_is_flagged_with_the_offending_globals_named(
    case: Malicious,
) -> None:
    rep = analyse_pickle(io.BytesIO(case.data))
    assert rep.error is None, rep.error
    names = {u.name for u in rep.unsafe}
    assert case.offending <= names, (case.trick, names)
    assert not rep.safe


def test_known_code_execution_is_critical_and_an_unknown_module_is_high() -> None:
    by = {m.name: m for m in MALICIOUS_PICKLES}
    rep = analyse_pickle(io.BytesIO(by["os_system_global_p0"].data))
    assert rep.severity is Severity.CRITICAL
    rep = analyse_pickle(io.BytesIO(by["unknown_module_hook"].data))
    assert rep.severity is Severity.HIGH


def test_commands_popen_is_reported_as_subprocess_popen_below_protocol_3() -> None:
    data = proto(2) + call1(glob("commands", "Popen"), bu("id")) + b"."
    rep = analyse_pickle(io.BytesIO(data))
    [ref] = rep.globals
    assert (ref.qualname, ref.written) == ("subprocess.Popen", "commands.Popen")
    assert [u.name for u in rep.unsafe] == ["subprocess.Popen"]
    assert rep.unsafe[0].severity is Severity.CRITICAL
    # from protocol 3 on the unpickler does not map names: reported as written, still unsafe
    rep4 = analyse_pickle(io.BytesIO(proto(4) + call1(glob("commands", "Popen"), bu("id")) + b"."))
    assert [u.name for u in rep4.unsafe] == ["commands.Popen"]
    assert rep4.unsafe[0].severity is Severity.CRITICAL


def test_python2_builtin_names_map_to_builtins_and_stay_allowlisted_when_safe() -> None:
    data = b"c__builtin__\nset\n(]tR."
    rep = analyse_pickle(io.BytesIO(data))
    assert rep.global_names() == ["builtins.set"] and rep.safe


def test_stack_global_operands_are_followed_through_the_memo() -> None:
    # 'os' and 'system' memoized under LONG_BINPUT 7 and 9, dropped, fetched back
    data = (
        proto(4)
        + su("os")
        + b"r\x07\x00\x00\x00"
        + su("system")
        + b"r\x09\x00\x00\x00"
        + b"00j\x07\x00\x00\x00j\x09\x00\x00\x00\x93."
    )
    rep = analyse_pickle(io.BytesIO(data))
    assert [g.qualname for g in rep.globals] == ["os.system"]
    assert rep.globals[0].opcode == "STACK_GLOBAL"


def test_a_stack_global_with_computed_operands_is_itself_unsafe() -> None:
    data = (
        proto(4) + su("builtins") + su("str") + b"\x93" + su("os") + b"\x85R" + su("x") + b"\x93."
    )
    names = unsafe_names(data)
    assert "<unresolved STACK_GLOBAL>" in names


def test_getattr_on_an_imported_module_reports_the_name_reached() -> None:
    by = {m.name: m for m in MALICIOUS_PICKLES}
    rep = analyse_pickle(io.BytesIO(by["importlib_import_module"].data))
    reached = [(g.qualname, g.opcode) for g in rep.reached]
    assert reached == [("os.system", "builtins.getattr")]


def test_benign_pickles_of_numpy_and_python_data_are_safe() -> None:
    import numpy as np

    objects = [
        np.arange(6).reshape(2, 3),
        np.asfortranarray(np.ones((3, 2))),
        np.array(["a", "bc"]),
        np.array([1, "x", None], dtype=object),
        np.zeros(2, dtype=[("a", "i4"), ("b", "f8")]),
        np.random.RandomState(0),
        np.random.default_rng(0),
        np.ma.masked_array([1, 2], mask=[0, 1]),
        {"set": {1, 2}, "fs": frozenset([1]), "b": b"xy", "ba": bytearray(b"z"), "c": 1j},
    ]
    for protocol in range(6):
        for obj in objects:
            rep = analyse_pickle(io.BytesIO(pickle.dumps(obj, protocol=protocol)))
            assert rep.safe and rep.error is None, (protocol, type(obj), rep.unsafe, rep.error)


def test_fitted_scikit_learn_estimators_pickle_only_allowlisted_globals() -> None:
    import numpy as np
    from sklearn.cluster import FeatureAgglomeration, KMeans
    from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.feature_selection import SelectKBest
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.svm import SVC

    rng = np.random.default_rng(0)
    X = rng.random((60, 5))
    y = (X[:, 0] > 0.5).astype(int)
    estimators = [
        GradientBoostingClassifier(n_estimators=3).fit(X, y),
        HistGradientBoostingRegressor(max_iter=3).fit(X, X[:, 1]),
        KNeighborsClassifier(algorithm="kd_tree").fit(X, y),
        MLPClassifier(max_iter=5).fit(X, y),
        make_pipeline(StandardScaler(), SelectKBest(k=2), SVC()).fit(X, y),
        KMeans(2, n_init=1).fit(X),
        FeatureAgglomeration(2).fit(X),
        OneHotEncoder().fit([["a"], ["b"]]),
    ]
    for est in estimators:
        rep = analyse_pickle(io.BytesIO(pickle.dumps(est, protocol=4)))
        assert rep.safe, (type(est).__name__, rep.unsafe)


def test_the_allowlist_holds_every_installed_scikit_learn_estimator() -> None:
    from sklearn.utils import all_estimators

    allow = load_safe_globals()
    missing = [
        f"{cls.__module__}.{cls.__qualname__}"
        for _, cls in all_estimators()
        if not allow.is_safe(cls.__module__, cls.__qualname__)
    ]
    assert missing == []


def test_the_allowlist_is_loaded_once_and_wildcards_allow_only_public_plain_names() -> None:
    allow = load_safe_globals()
    assert load_safe_globals() is allow
    assert allow.version >= 1
    assert allow.is_safe("numpy.dtypes", "Float64DType")
    assert not allow.is_safe("numpy.dtypes", "_private")
    assert not allow.is_safe("numpy.dtypes", "Float64DType.__init__")
    assert allow.is_safe("torch._utils", "_rebuild_tensor_v2")
    assert not allow.is_safe("collections", "OrderedDict.fromkeys")
    for module, name in allow.names:
        assert allow.severity(module, name) in (Severity.HIGH, Severity.CRITICAL)


def test_joblib_array_bytes_are_skipped_so_the_payload_after_them_is_seen() -> None:
    data = joblib_with_array_then(call1(glob("os", "system"), bu("id")))
    rep = analyse_pickle(io.BytesIO(data))
    assert rep.error is None and rep.joblib_arrays == 1
    assert {u.name for u in rep.unsafe} == {"os.system"}
    assert rep.end == len(data)
    # read as a plain pickle, the raw array bytes (all STOP opcodes) end the walk early
    plain = analyse_pickle(io.BytesIO(data), joblib=False)
    assert plain.safe and plain.end < len(data)


def test_real_joblib_files_parse_to_their_last_byte(tmp_path: object) -> None:
    from pathlib import Path

    import joblib
    import numpy as np

    path = Path(str(tmp_path)) / "mixed.joblib"
    joblib.dump(
        {
            "f": np.ones((3, 2), order="F"),
            "s": np.array(["ab", "c"]),
            "o": np.array([1, "a", None], dtype=object),
            "st": np.zeros(2, dtype=[("a", "i4"), ("b", "f8")]),
            "dt": np.array(["2020-01-01"], dtype="M8[D]"),
            "empty": np.zeros((0, 4)),
        },
        path,
    )
    data = path.read_bytes()
    rep = analyse_pickle(io.BytesIO(data))
    assert rep.error is None and rep.safe
    assert rep.joblib_arrays == 6 and rep.end == len(data)


def test_pickle_bombs_stop_at_a_limit_with_a_clear_reason() -> None:
    marks = proto(2) + b"(" * 200_000 + b"."
    rep = analyse_pickle(io.BytesIO(marks))
    assert rep.error is not None and "MARK" in rep.error
    memo = proto(4) + b"N" + b"\x94" * 2000 + b"."
    rep = analyse_pickle(io.BytesIO(memo), limits=PickleLimits(max_memo=1000))
    assert rep.error is not None and "memo" in rep.error
    stack = proto(2) + b"N2" * 3000 + b"."
    rep = analyse_pickle(io.BytesIO(stack), limits=PickleLimits(max_stack=1000))
    assert rep.error is not None and "stack" in rep.error
    ops = proto(2) + b"N0" * 5000 + b"N."
    rep = analyse_pickle(io.BytesIO(ops), limits=PickleLimits(max_opcodes=1000))
    assert rep.error is not None and "opcodes" in rep.error


def test_a_huge_declared_length_is_an_error_at_once_not_a_huge_read() -> None:
    data = proto(4) + b"\x8e" + struct.pack("<Q", 1 << 60) + b"."
    start = time.perf_counter()
    rep = analyse_pickle(PickleReader(io.BytesIO(data), size=len(data)))
    assert time.perf_counter() - start < 1
    assert rep.error is not None and rep.error.startswith("truncated at byte")
    assert "BINBYTES8 at byte 2 needs" in rep.error


def test_a_truncated_stream_reports_the_offset_and_keeps_what_ran_before() -> None:
    data = proto(2) + call1(glob("os", "system"), bu("id")) + bu("more text")[:-4]
    rep = analyse_pickle(io.BytesIO(data))
    assert rep.error is not None and rep.error.startswith(f"truncated at byte {len(data)}")
    assert [u.name for u in rep.unsafe] == ["os.system"]


def test_an_invalid_opcode_is_named_with_its_offset() -> None:
    rep = analyse_pickle(io.BytesIO(proto(2) + b"N\xff."))
    assert rep.error == "invalid pickle opcode 0xff at byte 3"


def test_consecutive_streams_are_all_analysed() -> None:
    first = proto(2) + b"K\x01."
    second = proto(2) + call1(glob("os", "system"), bu("id")) + b"."
    data = first + second
    reps = list(analyse_pickles(PickleReader(io.BytesIO(data), size=len(data))))
    assert len(reps) == 2 and reps[0].safe and not reps[1].safe
    assert reps[0].result == 1

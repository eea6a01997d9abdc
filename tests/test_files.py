"""Files saved for the user (sb.save_params, fn.save, model.save): bad targets and bad parameter
files raise SymbackpropError naming the file or key before anything is written; a save replaces
the file whole (a killed save leaves the old one), follows the umask, keeps every key and never
overwrites a read-only file."""

from __future__ import annotations

import io
import os
import stat
import struct
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
import sympy as sp

import symbackprop as sb

PARAMS = {"W1": np.arange(6.0).reshape(2, 3), "b1": np.array([0.5, -1.0])}


@pytest.fixture(scope="module")
def fn():
    x = sp.Symbol("x")
    return sb.compile(x**2, [x])


@pytest.fixture(scope="module")
def model():
    return sb.Sequential(inputs=2, layers=[sb.Dense(1, "sigmoid")], loss="half_sse").compile()


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _no_temp_files(folder) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def _assert_same(loaded, params):
    assert list(loaded) == list(params)
    for k, v in params.items():
        np.testing.assert_array_equal(loaded[k], v)


# ---- parameters: every key kept, bad keys, targets and files refused ----------------------------


def test_save_params_keeps_every_key_whatever_its_name(tmp_path):
    # allow_pickle and file are np.savez's own arguments; "a.npy" and "a" are stored as
    # a.npy.npy and a.npy, which np.load's NpzFile would mix up.
    params = {
        "allow_pickle": np.ones(2),
        "file": np.full(3, 2.0),
        "a.npy": np.array([3.0]),
        "a": np.array([4.0]),
        "W α/1": np.eye(2),
        **PARAMS,
    }
    path = sb.save_params(tmp_path / "p.npz", params)
    _assert_same(sb.load_params(path), params)
    # still a plain .npz: a standalone module's user reads it with NumPy alone
    with np.load(path) as data:
        np.testing.assert_array_equal(data["allow_pickle"], params["allow_pickle"])
        np.testing.assert_array_equal(data["W1"], params["W1"])
    assert _no_temp_files(tmp_path)


@pytest.mark.parametrize(
    "key, why",
    [
        (1, "non-empty strings"),
        (None, "non-empty strings"),
        ("", "non-empty strings"),
        ("W\x001", "cannot be stored"),
        ("W\ud800", "not valid text"),
    ],
)
def test_save_params_refuses_a_key_it_would_lose_and_writes_nothing(tmp_path, key, why):
    path = sb.save_params(tmp_path / "p.npz", PARAMS)
    before = path.read_bytes()
    with pytest.raises(sb.SymbackpropError, match=why) as err:
        sb.save_params(path, {**PARAMS, key: np.ones(1)})
    assert repr(key) in str(err.value)
    assert path.read_bytes() == before and _no_temp_files(tmp_path)


def test_save_params_refuses_bad_targets_before_writing(tmp_path):
    (tmp_path / "folder.npz").mkdir()
    with pytest.raises(sb.SymbackpropError, match="folder.npz: it is a folder"):
        sb.save_params(tmp_path / "folder.npz", PARAMS)
    with pytest.raises(sb.SymbackpropError, match="save path must be a str or path"):
        sb.save_params(42, PARAMS)
    with pytest.raises(sb.SymbackpropError, match="missing.*does not exist"):
        sb.save_params(tmp_path / "missing" / "p.npz", PARAMS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.npz"]


def _object_npz(path):
    np.savez(path, W1=np.array([1.0, None], dtype=object))


def _npy_renamed(path):
    with open(path, "wb") as fh:
        np.save(fh, np.ones(3))


def _truncated(path):
    sb.save_params(path, PARAMS)
    path.write_bytes(path.read_bytes()[:-30])


def _not_an_array_entry(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")


def _empty_npz(path):
    with zipfile.ZipFile(path, "w"):
        pass


def _corrupt_entry(path):
    sb.save_params(path, {"W1": np.ones(100)})
    data = bytearray(path.read_bytes())
    data[200] ^= 0xFF  # inside W1's data: the zip's CRC no longer matches
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "make, why",
    [
        (lambda p: p.write_text("W1 = 1, 2, 3\n"), "not a readable .npz"),
        (_npy_renamed, "not a readable .npz"),
        (_truncated, "not a readable .npz"),
        (_object_npz, "parameter W1 in .* unreadable"),
        (lambda p: np.savez(p, W1=np.array(["a", "b"])), "parameter W1 in .* <U1 values"),
        (lambda p: np.savez(p, W1=np.ones(2) * 1j), "parameter W1 in .* complex128 values"),
        (_not_an_array_entry, "'readme.txt', which is not a .npy array"),
        (_empty_npz, "holds no parameters"),
        (_corrupt_entry, "parameter W1 in .* unreadable"),
        (lambda p: p.mkdir(), "is a folder"),
        (lambda p: None, "no parameter file"),
    ],
    ids=[
        "text",
        "npy",
        "truncated",
        "object",
        "strings",
        "complex",
        "entry",
        "empty",
        "crc",
        "folder",
        "missing",
    ],
)
def test_load_params_refuses_bad_files_naming_them(tmp_path, make, why):
    path = tmp_path / "bad.npz"
    make(path)
    with pytest.raises(sb.SymbackpropError, match=why) as err:
        sb.load_params(path)
    assert "bad.npz" in str(err.value)


def test_load_params_reads_any_compression_zipfile_knows_and_refuses_others(tmp_path):
    """A bzip2 entry loads; an unknown method is refused before zipfile tries it (it raised
    NotImplementedError)."""
    path = tmp_path / "bad.npz"
    array = io.BytesIO()
    np.lib.format.write_array(array, np.ones(3))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_BZIP2) as archive:
        archive.writestr("W1.npy", array.getvalue())
    np.testing.assert_array_equal(sb.load_params(path)["W1"], np.ones(3))
    data = bytearray(path.read_bytes())  # the method fields of the local and central headers
    struct.pack_into("<H", data, data.find(b"PK\x03\x04") + 8, 99)
    struct.pack_into("<H", data, data.find(b"PK\x01\x02") + 10, 99)
    path.write_bytes(bytes(data))
    with pytest.raises(sb.SymbackpropError, match=r"W1 in .*bad.npz is unreadable .*method 99"):
        sb.load_params(path)


def test_load_params_refuses_a_non_path():
    with pytest.raises(sb.SymbackpropError, match="parameter file must be a str or path"):
        sb.load_params(["p.npz"])


def test_load_params_reads_plain_npz_files_as_float64(tmp_path):
    np.savez(tmp_path / "p.npz", W1=np.eye(2, dtype=np.int32), b1=np.array([True, False]))
    loaded = sb.load_params(tmp_path / "p.npz")
    assert [v.dtype for v in loaded.values()] == [np.float64, np.float64]
    np.testing.assert_array_equal(loaded["b1"], [1.0, 0.0])


# ---- a killed save leaves the old file ----------------------------------------------------------

KILLED_WRITER = textwrap.dedent(
    """
    import sys, time, zipfile
    import numpy as np
    import symbackprop as sb

    real_close = zipfile.ZipFile.close

    def paused_close(self):  # the arrays are written, the zip's directory is not yet
        if self.mode == "w":
            print("writing", flush=True)
            time.sleep(600)
        real_close(self)

    zipfile.ZipFile.close = paused_close
    sb.save_params(sys.argv[1], {"W1": np.full((300, 300), 7.0), "b1": np.ones(300)})
    """
)


def test_save_params_killed_midway_leaves_the_old_parameters(tmp_path):
    path = sb.save_params(tmp_path / "p.npz", PARAMS)
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline()
        assert line == "writing\n", child.stderr.read()
    finally:
        child.kill()  # SIGKILL: no cleanup runs in the child
        child.communicate(timeout=60)
    assert child.returncode == -9
    _assert_same(sb.load_params(path), PARAMS)
    new = {"W1": np.zeros((2, 3)), "b1": np.zeros(2)}
    sb.save_params(path, new)  # the killed writer's leftover temp file does not get in the way
    _assert_same(sb.load_params(path), new)


# ---- permissions: the umask for a new file, an existing file's own mode, read-only refused ------


@pytest.fixture
def umask():
    """Sets the process umask for one test (pytest runs tests in one thread)."""
    saved = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(saved)


def _savers(fn, model):
    return {
        "fn.save": (".py", fn.save),
        "model.save": (".py", model.save),
        "save_params": (".npz", lambda path: sb.save_params(path, PARAMS)),
    }


@pytest.mark.parametrize("which", ["fn.save", "model.save", "save_params"])
def test_saved_files_follow_the_umask(tmp_path, fn, model, umask, which):
    suffix, save = _savers(fn, model)[which]
    umask(0o022)
    assert _mode(save(tmp_path / f"shared{suffix}")) == 0o644
    umask(0o027)
    assert _mode(save(tmp_path / f"group{suffix}")) == 0o640
    umask(0o077)
    assert _mode(save(tmp_path / f"private{suffix}")) == 0o600
    # replacing a file keeps its mode, as writing it with open(path, "w") would
    umask(0o022)
    kept = tmp_path / f"kept{suffix}"
    kept.write_bytes(b"old")
    kept.chmod(0o660)
    assert _mode(save(kept)) == 0o660 and kept.read_bytes() != b"old"
    assert _no_temp_files(tmp_path)


@pytest.mark.parametrize("which", ["fn.save", "model.save", "save_params"])
def test_saves_refuse_a_read_only_file_and_a_folder(tmp_path, fn, model, which):
    suffix, save = _savers(fn, model)[which]
    locked = tmp_path / f"locked{suffix}"
    locked.write_bytes(b"keep me")
    locked.chmod(0o444)
    with pytest.raises(sb.SymbackpropError, match=f"locked{suffix}: the file is read-only"):
        save(locked)
    assert locked.read_bytes() == b"keep me" and _mode(locked) == 0o444
    folder = tmp_path / f"folder{suffix}"
    folder.mkdir()
    with pytest.raises(sb.SymbackpropError, match=f"folder{suffix}: it is a folder"):
        save(folder)
    assert _no_temp_files(tmp_path)

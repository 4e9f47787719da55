"""What `inference.dtype: auto` resolves to depends on the machine: both outcomes, and how to force one."""

from __future__ import annotations

import pytest

from kvroute.inference import job as inference


@pytest.fixture(autouse=True)
def unforced(monkeypatch):
    monkeypatch.delenv(inference.AUTO_DTYPE_ENV, raising=False)


@pytest.mark.parametrize("native_bf16, expected", [(True, "bfloat16"), (False, "float32")])
def test_auto_follows_the_cpus_native_bf16(monkeypatch, native_bf16, expected):
    monkeypatch.setattr(inference, "cpu_has_bf16", lambda: native_bf16)
    assert inference.resolve_dtype("auto", "cpu") == expected
    assert inference.resolve_dtype("auto", "cuda") == "bfloat16"  # every CUDA GPU here has bf16


@pytest.mark.parametrize("forced", ["float32", "bfloat16"])
@pytest.mark.parametrize("native_bf16", [True, False])
def test_the_environment_decides_auto_instead_of_the_machine(monkeypatch, forced, native_bf16):
    monkeypatch.setattr(inference, "cpu_has_bf16", lambda: native_bf16)
    monkeypatch.setenv(inference.AUTO_DTYPE_ENV, forced)
    assert inference.resolve_dtype("auto", "cpu") == forced
    assert inference.resolve_dtype("auto", "cuda") == forced


def test_a_named_dtype_is_never_overridden(monkeypatch):
    monkeypatch.setenv(inference.AUTO_DTYPE_ENV, "bfloat16")
    assert inference.resolve_dtype("float32", "cpu") == "float32"
    assert inference.resolve_dtype("float16", "cuda") == "float16"


def test_a_bad_forced_value_names_the_variable_and_the_allowed_values(monkeypatch):
    monkeypatch.setenv(inference.AUTO_DTYPE_ENV, "fp16")
    with pytest.raises(ValueError, match=r"KVROUTE_AUTO_DTYPE: 'fp16' is not allowed; allowed values: float32, bfloat16"):
        inference.resolve_dtype("auto", "cpu")

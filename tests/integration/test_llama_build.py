"""The llama.cpp build installed in this environment: compiled for this CPU's instruction sets,
AMX never compiled in, and one real decode in a child process (what `lore doctor` checks)."""

from __future__ import annotations

import pytest

from retrieval import native_build as nb

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def lib_dir():
    nb.prepare_runtime()
    lib = nb.active_lib_dir()
    if lib is None:
        pytest.skip("llama-cpp-python is not installed: run `make setup`")
    return lib


def test_amx_is_not_compiled_in_and_nothing_the_cpu_lacks_is(lib_dir):
    features = nb.compiled_features(lib_dir)
    assert features.get("GGML_AMX_INT8") is False
    assert nb.missing_on_this_cpu(features, nb.cpu_flags()) == []


def test_the_build_uses_what_the_cpu_has(lib_dir):
    """Built by Lore's installer for this CPU kind: every instruction set the CPU offers is in."""
    record = nb.installed_record()
    if record is None or record.get("variant") != "this-cpu":
        pytest.skip("llama.cpp was not built by scripts/install.sh for this CPU (no build record)")
    if record.get("key") != nb.build_key(nb.cmake_args(nb.cpu_flags())):
        pytest.skip("the environment was built on another CPU kind: `make setup` rebuilds it here")
    features = nb.compiled_features(lib_dir)
    wanted = [o for o, on in nb.isa_options(nb.cpu_flags()).items() if on and o in features]
    assert wanted and all(features[o] for o in wanted)


@pytest.mark.slow
def test_doctor_decodes_the_default_model_in_a_child_process(lore_home):
    from app.doctor import check_decode, check_llama_build, check_model_file
    from retrieval.errors import ModelNotFoundError
    from retrieval.settings import load_settings

    settings = load_settings()
    try:
        model = check_model_file(settings)
    except ModelNotFoundError:
        pytest.skip("the default GGUF is not installed: run `lore models install`")
    build = check_llama_build(settings)
    decode = check_decode(settings)
    assert model.ok and build.ok and "AMX is compiled in" not in build.detail
    assert decode.ok and "child process" in decode.detail

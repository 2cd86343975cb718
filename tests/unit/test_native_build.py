"""The llama.cpp build: CPU flags in, CMake arguments out (AMX never on), and the variant an image
loads on a given CPU."""

import json

import pytest

from retrieval import native_build
from retrieval.native_build import (
    AMX_OPTIONS,
    VARIANTS,
    cmake_args,
    cpu_flags,
    enabled,
    isa_options,
    missing_on_this_cpu,
    prepare_runtime,
    select_variant,
)

pytestmark = pytest.mark.unit

BASE = "fpu sse sse2 ssse3 cx16 popcnt lm"
HASWELL = f"{BASE} sse4_1 sse4_2 avx f16c fma bmi1 bmi2 avx2"
WESTMERE = f"{BASE} sse4_1 sse4_2"
SKYLAKE_SP = f"{HASWELL} avx512f avx512dq avx512cd avx512bw avx512vl"
ICELAKE_SP = f"{SKYLAKE_SP} avx512vbmi avx512_vnni avx512_vbmi2"
SAPPHIRE_RAPIDS = f"{ICELAKE_SP} avx_vnni avx512_bf16 amx_bf16 amx_tile amx_int8 avx512_fp16"
ZEN4 = f"{SKYLAKE_SP} avx512ifma avx512vbmi avx512_vbmi2 avx512_vnni avx512_bf16 avx512_bitalg"
ALDER_LAKE = f"{HASWELL} avx_vnni"
# A hypervisor that hides AVX-512F but leaks an extension's flag: the extension needs its base.
MASKED = f"{HASWELL} avx512_vnni avx512_bf16"

ALL_ISA = ["GGML_SSE42", "GGML_AVX", "GGML_F16C", "GGML_FMA", "GGML_BMI2", "GGML_AVX2", "GGML_AVX_VNNI",
           "GGML_AVX512", "GGML_AVX512_VBMI", "GGML_AVX512_VNNI", "GGML_AVX512_BF16"]

CASES = [
    ("westmere", WESTMERE, ["GGML_SSE42"]),
    ("haswell", HASWELL, ["GGML_SSE42", "GGML_AVX", "GGML_F16C", "GGML_FMA", "GGML_BMI2", "GGML_AVX2"]),
    ("alder-lake", ALDER_LAKE, ["GGML_SSE42", "GGML_AVX", "GGML_F16C", "GGML_FMA", "GGML_BMI2", "GGML_AVX2", "GGML_AVX_VNNI"]),
    ("skylake-sp", SKYLAKE_SP, ["GGML_SSE42", "GGML_AVX", "GGML_F16C", "GGML_FMA", "GGML_BMI2", "GGML_AVX2", "GGML_AVX512"]),
    ("icelake-sp", ICELAKE_SP, ["GGML_SSE42", "GGML_AVX", "GGML_F16C", "GGML_FMA", "GGML_BMI2", "GGML_AVX2", "GGML_AVX512",
                                "GGML_AVX512_VBMI", "GGML_AVX512_VNNI"]),
    ("sapphire-rapids", SAPPHIRE_RAPIDS, ALL_ISA),
    ("zen4", ZEN4, [o for o in ALL_ISA if o != "GGML_AVX_VNNI"]),
    ("masked", MASKED, ["GGML_SSE42", "GGML_AVX", "GGML_F16C", "GGML_FMA", "GGML_BMI2", "GGML_AVX2"]),
]


@pytest.mark.parametrize("name, flags, expected_on", CASES, ids=[c[0] for c in CASES])
def test_flags_in_cmake_arguments_out(name, flags, expected_on):
    args = cmake_args(flags.split())
    assert args[:2] == ["-DGGML_NATIVE=OFF", "-DLLAVA_BUILD=OFF"]
    assert enabled(args) == expected_on
    # Every instruction-set option is stated, so llama.cpp's defaults never switch one on behind our back.
    for option in ALL_ISA:
        assert sum(a.startswith(f"-D{option}=") for a in args) == 1
    for option in AMX_OPTIONS:
        assert f"-D{option}=OFF" in args
        assert f"-D{option}=ON" not in args


@pytest.mark.parametrize("flags", [SAPPHIRE_RAPIDS, ZEN4, HASWELL, ""])
def test_amx_is_never_on(flags):
    options = isa_options(flags.split())
    assert all(options[o] is False for o in AMX_OPTIONS)


def test_user_cmake_args_come_last_and_other_architectures_keep_llama_cpp_defaults(monkeypatch):
    args = cmake_args(HASWELL.split(), "-DGGML_CUDA=ON -DGGML_CCACHE=OFF")
    assert args[-2:] == ["-DGGML_CUDA=ON", "-DGGML_CCACHE=OFF"]
    monkeypatch.setattr(native_build.platform, "machine", lambda: "aarch64")
    assert cmake_args([]) == ["-DLLAVA_BUILD=OFF"]


def test_cpu_flags_read_from_cpuinfo():
    text = "processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu avx2 amx_tile\n\nprocessor\t: 1\nflags\t\t: fpu\n"
    assert cpu_flags(text) == {"fpu", "avx2", "amx_tile"}
    assert cpu_flags("Features\t: neon asimd\n") == frozenset()


def _variants(tmp_path, names):
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / "build.json").write_text(json.dumps({"variant": name}))
    return tmp_path


@pytest.mark.parametrize(
    "flags, expected",
    [(ZEN4, "avx512-spr"), (SAPPHIRE_RAPIDS, "avx512-spr"), (ICELAKE_SP, "avx512-icl"), (SKYLAKE_SP, "avx512"),
     (HASWELL, "avx2"), (ALDER_LAKE, "avx2"), (WESTMERE, None)],
)
def test_an_image_loads_the_best_variant_the_cpu_runs(tmp_path, flags, expected):
    folder = _variants(tmp_path, VARIANTS)
    chosen = select_variant(flags.split(), folder)
    assert (chosen.name if chosen else None) == expected


def test_prepare_runtime_points_llama_cpp_at_the_variant_unless_the_user_chose(tmp_path, monkeypatch):
    monkeypatch.delenv(native_build.LIB_PATH_ENV, raising=False)
    folder = tmp_path / native_build.VARIANTS_DIR_NAME
    folder.mkdir()
    _variants(folder, ["avx2", "avx512"])
    assert prepare_runtime(HASWELL.split(), prefix=tmp_path) == folder / "avx2"
    assert native_build.os.environ[native_build.LIB_PATH_ENV] == str(folder / "avx2")
    monkeypatch.setenv(native_build.LIB_PATH_ENV, "/opt/mine")
    assert str(prepare_runtime(ZEN4.split(), prefix=tmp_path)) == "/opt/mine"
    monkeypatch.delenv(native_build.LIB_PATH_ENV)
    assert prepare_runtime(ZEN4.split(), prefix=tmp_path / "no-variants-here") is None


def test_a_build_using_what_the_cpu_lacks_is_named():
    built = {"GGML_AVX2": True, "GGML_AVX512": True, "GGML_AVX512_BF16": True, "GGML_AMX_INT8": False}
    assert missing_on_this_cpu(built, ZEN4.split()) == []
    assert missing_on_this_cpu(built, HASWELL.split()) == ["GGML_AVX512", "GGML_AVX512_BF16"]
    assert missing_on_this_cpu({"GGML_AMX_INT8": True}, ZEN4.split()) == ["GGML_AMX_INT8"]


@pytest.mark.parametrize("compiled, expected", [
    ({"GGML_AVX2": True, "GGML_AVX512": False}, True),  # AVX2 kernels read prompts faster repacked
    ({"GGML_AVX2": True, "GGML_AVX512": True}, False),  # AVX-512 kernels slower repacked (and AMX needs AVX-512)
])
def test_weights_are_repacked_by_default_only_under_a_build_without_avx512(monkeypatch, tmp_path, compiled, expected):
    from retrieval.generators import repack_weights

    monkeypatch.setattr(native_build, "compiled_features", lambda lib_dir: compiled)
    assert repack_weights(None, tmp_path) is expected
    assert repack_weights(True, tmp_path) is True and repack_weights(False, tmp_path) is False  # a setting wins
    assert repack_weights(None, None) is False  # no build known: as llama.cpp was loaded before

    def broken(lib_dir):
        raise native_build.BuildError("no libggml-cpu")

    monkeypatch.setattr(native_build, "compiled_features", broken)
    assert repack_weights(None, tmp_path) is False

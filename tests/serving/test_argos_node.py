"""A real node serving Argos Translate packages over HTTP: two from a packages folder (one as old
as CTranslate2 2.x makes them), one installed with ``udn models install``, next to the bundled
Bergamot pairs and a configured directory that wins over a package of the same pair.

Every answer must be what the CTranslate2 engine itself answers for that text with the
package's model (``tests.support.ct2_model.raw_translate``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support import ADMIN, ADMIN_TOKEN, start_node, translate, udn
from tests.support.argos_package import build_package, pack
from tests.support.ct2_model import corpus, raw_translate

OPTIONS = {"compute_type": "float32", "max_decoding_length": 16}  # float32: batched == alone


def test_packages_from_the_folder_and_the_store_are_served_over_http(
    tmp_path: Path, ct2_seeded: Callable[[int], Path]
) -> None:
    en_xx, xx_en, en_zz = ct2_seeded(1), ct2_seeded(2), ct2_seeded(3)
    packages = tmp_path / "packages"
    build_package(packages, en_xx, "en", "xx", version="1.9")
    build_package(packages, xx_en, "xx", "en", version="1.0", legacy=True)
    build_package(packages, xx_en, "en", "zz")  # models.pairs.en-zz (another model) wins over it
    env = {
        "ADAPTER_DIR": str(tmp_path / "store"),
        "ARGOS_PACKAGES_DIR": str(packages),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "UDN_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    archive = pack(build_package(tmp_path / "build", en_zz, "en", "yy"), tmp_path / "en_yy.argosmodel")
    installed = udn(["models", "install", str(archive)], env, tmp_path)
    assert installed.returncode == 0, installed.stderr

    config = {
        "serving": {"threads": 2, "request_timeout": 60},
        "models": {
            "pairs": {"en-zz": {"path": str(en_zz), **OPTIONS}},
            "options": {pair: OPTIONS for pair in ("en-xx", "xx-en", "en-yy")},
        },
    }
    node = start_node(tmp_path, config, env=env)
    try:
        languages = httpx.get(node.url + "/languages", timeout=10).json()
        assert languages == [
            {"code": "en", "name": "English", "targets": ["pt", "xx", "yy", "zz"]},
            # and the targets served through English (models.pivot)
            {"code": "pt", "name": "Portuguese", "targets": ["en", "xx", "yy", "zz"]},
            {"code": "xx", "name": "Xenish", "targets": ["en", "pt", "yy", "zz"]},  # the package's name
        ]

        texts = corpus(6, seed=13)
        for source, target, model in (
            ("en", "xx", en_xx),
            ("xx", "en", xx_en),
            ("en", "yy", en_zz),
            ("en", "zz", en_zz),
        ):
            answer = translate(node.url, texts, source, target, expect=200, timeout=60)
            expected = list(raw_translate(model, texts, max_decoding_length=16))
            assert answer.json()["translatedText"] == expected, (source, target)
        shadowed = list(raw_translate(xx_en, texts, max_decoding_length=16))
        assert shadowed != list(raw_translate(en_zz, texts, max_decoding_length=16)), "the models differ"

        described = httpx.get(node.url + "/admin/models", headers=ADMIN, timeout=30).json()["pairs"]
        assert {pair: described[pair]["source"] for pair in described} == {
            "en-pt": "bundled",
            "pt-en": "bundled",
            "en-xx": "argos",
            "xx-en": "argos",
            "en-yy": "argos",
            "en-zz": "directory",
        }
        assert (described["en-xx"]["version"], described["en-xx"]["location"]) == (
            "1.9",
            "ARGOS_PACKAGES_DIR",
        )
        assert (described["xx-en"]["version"], described["xx-en"]["location"]) == (
            "1.0",
            "ARGOS_PACKAGES_DIR",
        )
        assert described["en-yy"]["location"] == "model store"
        assert described["en-yy"]["path"] == str(tmp_path / "store" / "argos" / "en-yy-1.9")
    finally:
        node.stop()
    assert "Traceback" not in node.log(), node.log()

"""Files named by content from strangers (dldeck.contain): a card cannot make the build read a file
outside its content folder, hang on a FIFO or a device, or ship something that is not the image
its name says — not through the reader, not through any emitter, not while hashing inputs."""

from __future__ import annotations

import base64
import dataclasses
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from dldeck import buildcache, contain
from dldeck.cli import main
from dldeck.config import SheetConfig
from dldeck.errors import BuildError
from dldeck.source import read_collection

CARD = """\
---
deck: 测试
---

## 图里画的是什么？ {{#picture}}

看图：

![示意图]({src})
"""
IMAGE_LINE = "content/a.md:9:"


def png_bytes(size: tuple[int, int] = (3, 2), fmt: str = "PNG") -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


def project(root: Path, src: str) -> Path:
    content = root / "content"
    content.mkdir(parents=True, exist_ok=True)
    (content / "a.md").write_text(CARD.format(src=src), encoding="utf-8")
    return content


def read_errors(content: Path) -> list[str]:
    with pytest.raises(BuildError) as caught:
        read_collection(content)
    return [str(d) for d in caught.value.diagnostics]


@pytest.fixture
def in_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    return tmp_path


# --------------------------------------------------------------------------- files outside content/


@pytest.mark.parametrize("src", ["/proc/self/environ", "/etc/hostname"])
def test_a_system_file_is_not_embedded_in_the_html(in_project: Path, src: str) -> None:
    project(in_project, src)
    result = CliRunner().invoke(main, ["build", "--only", "html"])
    assert result.exit_code == 1, result.output
    assert f"{IMAGE_LINE} cannot use image «{src}»: it is outside the content folder" in result.output
    assert not (in_project / "build" / "cheatsheet.html").exists()
    secret = Path("/etc/hostname").read_bytes()
    for page in (in_project / "build").rglob("*.html"):
        assert base64.b64encode(secret).decode() not in page.read_text(encoding="utf-8")


def test_parent_paths_and_absolute_paths_to_pictures_outside_are_refused(tmp_path: Path) -> None:
    (tmp_path / "outside.png").write_bytes(png_bytes())
    for src in ("../outside.png", str(tmp_path / "outside.png")):
        content = project(tmp_path, src)
        (error,) = read_errors(content)
        assert error.startswith(f"{IMAGE_LINE} cannot use image «")
        assert "»: it is outside the content folder" in error


def test_a_symlink_inside_content_leading_out_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.png").write_bytes(png_bytes())
    content = project(tmp_path, "pic.png")
    (content / "pic.png").symlink_to(tmp_path / "secret.png")
    (error,) = read_errors(content)
    assert error.startswith(f"{IMAGE_LINE} cannot use image «pic.png»: it is outside the content folder "
                            f"(a symbolic link to {tmp_path / 'secret.png'})")


def test_a_symlink_that_stays_inside_content_is_fine(tmp_path: Path) -> None:
    content = project(tmp_path, "link.png")
    (content / "img").mkdir()
    (content / "img" / "pic.png").write_bytes(png_bytes())
    (content / "link.png").symlink_to("img/pic.png")
    image = read_collection(content).cards[0].answer[1].children[0]
    assert Path(image.src) == (content / "img" / "pic.png").resolve()


def test_a_markdown_file_symlinked_from_outside_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "elsewhere.md").write_text("## 外面 {#outside}\n\n答案。\n", encoding="utf-8")
    content = project(tmp_path, "pic.png")
    (content / "pic.png").write_bytes(png_bytes())
    (content / "b.md").symlink_to(tmp_path / "elsewhere.md")
    (error,) = read_errors(content)
    assert error.startswith("content/b.md:1: cannot read this file: it is outside the content folder")


def test_a_hard_link_to_a_file_outside_content_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.png").write_bytes(png_bytes())
    content = project(tmp_path, "pic.png")
    os.link(tmp_path / "secret.png", content / "pic.png")
    (error,) = read_errors(content)
    assert error.startswith(f"{IMAGE_LINE} cannot use image «pic.png»: it is a hard link "
                            "(2 names for one file)")


def test_a_markdown_file_hard_linked_from_outside_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "elsewhere.md").write_text("## 外面 {#outside}\n\n答案。\n", encoding="utf-8")
    content = project(tmp_path, "pic.png")
    (content / "pic.png").write_bytes(png_bytes())
    os.link(tmp_path / "elsewhere.md", content / "b.md")
    (error,) = read_errors(content)
    assert error.startswith("content/b.md:1: cannot read this file: it is a hard link")


@pytest.mark.parametrize("command", [["build"], ["check"], ["stats"], ["mutate"]])
def test_a_missing_content_folder_is_exit_2_naming_it(in_project: Path, command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--content", "nowhere"])
    assert result.exit_code == 2, result.output
    assert "content folder nowhere does not exist" in result.output
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- what a file is


@pytest.mark.parametrize(("suffix", "fmt"),
                         [(".png", "PNG"), (".jpg", "JPEG"), (".gif", "GIF"), (".webp", "WEBP")])
def test_real_raster_images_are_accepted(tmp_path: Path, suffix: str, fmt: str) -> None:
    content = project(tmp_path, f"pic{suffix}")
    (content / f"pic{suffix}").write_bytes(png_bytes(fmt=fmt))
    assert read_collection(content).cards[0].slug == "picture"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("pic.png", b"HOME=/root\nSECRET=1\n", "it is not a valid PNG image"),
        ("pic.png", png_bytes(fmt="JPEG"), "it is not a valid PNG image"),
        ("pic.png", png_bytes()[:40], "it is not a valid PNG image"),
        ("pic.jpg", b"\xff\xd8\xff" + b"\0" * 20, "it is not a valid JPEG image"),
        ("notes.txt", b"hello", ".txt is not an image type"),
    ],
)
def test_a_file_that_is_not_the_image_its_name_says_is_refused(tmp_path: Path, name: str, data: bytes,
                                                               message: str) -> None:
    content = project(tmp_path, name)
    (content / name).write_bytes(data)
    (error,) = read_errors(content)
    assert error.startswith(f"{IMAGE_LINE} cannot use image «{name}»: {message}")


def test_an_image_over_the_size_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contain, "MAX_IMAGE_BYTES", 100)
    content = project(tmp_path, "pic.png")
    (content / "pic.png").write_bytes(png_bytes((300, 300)))
    (error,) = read_errors(content)
    assert "bytes, more than the limit of 100" in error


def test_a_decompression_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contain, "MAX_IMAGE_PIXELS", 1000)
    content = project(tmp_path, "pic.png")
    (content / "pic.png").write_bytes(png_bytes((100, 100)))
    (error,) = read_errors(content)
    assert "100 × 100 pixels, more than the limit" in error


SVG_OPEN = ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            'viewBox="0 0 10 10">')
GOOD_SVG = (SVG_OPEN + '<defs><linearGradient id="g"><stop offset="0"/></linearGradient>'
            '<rect id="r" width="5" height="5"/></defs><rect width="10" height="10" fill="url(#g)"/>'
            '<use href="#r"/><use xlink:href="#r"/><style>rect { fill: url(#g) }</style></svg>')


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (SVG_OPEN + "<script>alert(1)</script></svg>", "contains a <script> element"),
        (SVG_OPEN + '<rect onload="alert(1)"/></svg>', "event handler attribute 'onload'"),
        (SVG_OPEN + "<foreignObject><p>hi</p></foreignObject></svg>", "contains a <foreignobject> element"),
        (SVG_OPEN + '<image href="file:///etc/passwd"/></svg>', "refers to 'file:///etc/passwd'"),
        (SVG_OPEN + '<image xlink:href="https://x.example/a.png"/></svg>', "refers to 'https://x.example/a.png'"),
        (SVG_OPEN + '<a href="javascript:alert(1)"><rect/></a></svg>', "refers to 'javascript:alert(1)'"),
        (SVG_OPEN + '<rect style="fill: url(https://x.example/p)"/></svg>', "refers to url(https://x.example/p)"),
        (SVG_OPEN + "<style>@import url(https://x.example/s.css);</style></svg>", "has an @import"),
        ('<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
         '<svg xmlns="http://www.w3.org/2000/svg">&b;</svg>', "<!DOCTYPE> or <!ENTITY> declaration"),
        ('<?xml-stylesheet href="https://x.example/s.css"?>' + SVG_OPEN + "</svg>", "processing instruction"),
        ('<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>', "root element is <html>"),
        ("<svg", "not well-formed SVG"),
    ],
)
def test_an_svg_that_could_act_is_refused(tmp_path: Path, body: str, message: str) -> None:
    content = project(tmp_path, "pic.svg")
    (content / "pic.svg").write_text(body, encoding="utf-8")
    (error,) = read_errors(content)
    assert error.startswith(f"{IMAGE_LINE} cannot use image «pic.svg»:") and message in error, error


def test_an_inert_svg_with_internal_references_is_accepted(tmp_path: Path) -> None:
    content = project(tmp_path, "pic.svg")
    (content / "pic.svg").write_text(GOOD_SVG, encoding="utf-8")
    assert read_collection(content).cards[0].slug == "picture"


# --------------------------------------------------------------------------- FIFOs, devices, odd .md files


def test_a_fifo_image_is_refused_without_opening_it(tmp_path: Path) -> None:
    content = project(tmp_path, "pipe.png")
    os.mkfifo(content / "pipe.png")
    (error,) = read_errors(content)  # a blocking open would hang here
    assert error.startswith(f"{IMAGE_LINE} cannot use image «pipe.png»: it is a FIFO (named pipe), not a "
                            "regular file")


def test_odd_markdown_files_are_diagnostics(tmp_path: Path) -> None:
    content = project(tmp_path, "pic.png")
    (content / "pic.png").write_bytes(png_bytes())
    (content / "dangling.md").symlink_to(content / "gone.md")
    (content / "folder.md").mkdir()
    os.mkfifo(content / "pipe.md")
    (content / "zero.md").symlink_to("/dev/zero")
    errors = read_errors(content)
    assert errors == [
        "content/dangling.md:1: cannot read this file: it is a symbolic link to a missing file "
        f"({content / 'gone.md'})",
        "content/folder.md:1: cannot read this file: it is a folder, not a regular file",
        "content/pipe.md:1: cannot read this file: it is a FIFO (named pipe), not a regular file",
        "content/zero.md:1: cannot read this file: it is outside the content folder (a symbolic link to "
        "/dev/zero): a card may only use files inside it",
    ]


def test_a_fifo_inside_content_gives_diagnostic_and_cli_exit_1(in_project: Path) -> None:
    content = project(in_project, "pic.png")
    (content / "pic.png").write_bytes(png_bytes())
    os.mkfifo(content / "pipe.md")
    result = CliRunner().invoke(main, ["build"])
    assert result.exit_code == 1
    assert "content/pipe.md:1: cannot read this file: it is a FIFO" in result.output
    assert "Traceback" not in result.output


def test_hashing_skips_fifos_and_devices_anywhere_in_content(tmp_path: Path) -> None:
    content = project(tmp_path, "pic.png")
    os.mkfifo(content / "pipe.bin")
    (content / "deep").mkdir()
    (content / "deep" / "zero.png").symlink_to("/dev/zero")
    (content / "deep" / "null").symlink_to("/dev/null")
    started = time.monotonic()
    first = buildcache.hash_tree(content)
    assert buildcache.hash_tree(content) == first
    assert time.monotonic() - started < 5
    assert buildcache.hash_file(content / "pipe.bin").startswith("unusable:it is a FIFO")


def test_a_build_with_a_fifo_and_dev_zero_in_content_ends(tmp_path: Path) -> None:
    """The whole command in a process of its own: before dldeck.contain it spun forever hashing."""
    content = project(tmp_path, "pic.png")
    (content / "pic.png").write_bytes(png_bytes())
    os.mkfifo(content / "pipe")
    (content / "zero.png").symlink_to("/dev/zero")
    (content / "_facts").mkdir()
    os.mkfifo(content / "_facts" / "units.toml")
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    done = subprocess.run([sys.executable, "-m", "dldeck.cli", "build", "--only", "html"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "build" / "cheatsheet.html").is_file()


# --------------------------------------------------------------------------- every emitter checks again


def _swapped_collection(tmp_path: Path):
    """A collection read while its picture was fine, whose file then became a link to a system file:
    an emitter that trusted the reader would ship the system file."""
    content = project(tmp_path, "pic.png")
    (content / "pic.png").write_bytes(png_bytes())
    collection = read_collection(content)
    (content / "pic.png").unlink()
    (content / "pic.png").symlink_to("/etc/hostname")
    return collection


def test_the_html_emitter_checks_images_again(tmp_path: Path) -> None:
    from dldeck.emit.html import write_html

    with pytest.raises(BuildError, match=f"{IMAGE_LINE} cannot use image .*outside the content folder"):
        write_html(_swapped_collection(tmp_path), {}, SheetConfig(), "T", tmp_path / "s.html", "2025-01-01")


def test_the_anki_emitter_checks_images_again(tmp_path: Path) -> None:
    from dldeck.emit.anki import write_deck
    from dldeck.manifest import Manifest

    with pytest.raises(BuildError, match=f"{IMAGE_LINE} cannot use image .*outside the content folder"):
        write_deck(_swapped_collection(tmp_path), {}, Manifest(tmp_path / "m.json"), tmp_path / "d.apkg")
    assert not (tmp_path / "d.apkg").exists()


def test_the_pdf_emitter_checks_images_again(tmp_path: Path) -> None:
    from dldeck.emit.pdf import write_pdf

    with pytest.raises(BuildError, match=f"{IMAGE_LINE} cannot use image .*outside the content folder"):
        write_pdf(_swapped_collection(tmp_path), {}, SheetConfig(), "T", tmp_path / "s.pdf", "2025-01-01")


def test_an_image_typst_cannot_decode_is_named_at_its_card(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Typst reports a bad image at the style file; the error must still name the card's line, not
    `<cheat sheet>:0:`. (The content check is switched off to let such an image reach Typst.)"""
    from dldeck.emit.pdf import write_pdf

    content = project(tmp_path, "pic.png")
    (content / "pic.png").write_bytes(png_bytes())
    collection = read_collection(content)
    (content / "pic.png").write_bytes(png_bytes()[:60])
    monkeypatch.setattr(contain, "check_image", lambda data, suffix: None)
    with pytest.raises(BuildError) as caught:
        write_pdf(collection, {}, SheetConfig(), "T", tmp_path / "s.pdf", "2025-01-01")
    (error,) = [str(d) for d in caught.value.diagnostics]
    assert error.startswith(f"{IMAGE_LINE} Typst cannot use this image in the PDF (card picture): "
                            "failed to decode image")


def test_a_good_image_reaches_all_three_outputs(in_project: Path) -> None:
    content = project(in_project, "pic.png")
    picture = png_bytes()
    (content / "pic.png").write_bytes(picture)
    result = CliRunner().invoke(main, ["build"])
    assert result.exit_code == 0, result.output
    html = (in_project / "build" / "cheatsheet.html").read_text(encoding="utf-8")
    assert base64.b64encode(picture).decode() in html
    import zipfile

    with zipfile.ZipFile(in_project / "build" / "dldeck.apkg") as package:
        assert picture in [package.read(name) for name in package.namelist()]
    assert (in_project / "build" / "cheatsheet.pdf").read_bytes().startswith(b"%PDF")


def test_collection_root_is_what_the_emitters_contain_to(tmp_path: Path) -> None:
    """Images are contained to the collection's root, which the reader sets to the content folder."""
    content = project(tmp_path, "pic.png")
    (content / "pic.png").write_bytes(png_bytes())
    collection = read_collection(content)
    assert collection.root == str(content.resolve())
    moved = dataclasses.replace(collection, root=str(content / "sub"))
    from dldeck.emit.html import render_html

    with pytest.raises(BuildError, match="outside the content folder"):
        render_html(moved, {}, SheetConfig(), "T", "2025-01-01")

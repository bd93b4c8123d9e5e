"""Templates on a real kernel and SQLite file: versions, restore, duplicate, delete, import/export, starters."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.kernel.boot import Kernel, start_kernel
from app.kernel.messages import Event
from app.kernel.paths import AppPaths
from app.modules.editor import api, store
from app.modules.editor.document import Document, new_block, new_section
from app.modules.editor.messages import (
    BrandKitChanged,
    DeleteReusableBlock,
    DeleteTemplate,
    DuplicateTemplate,
    EditorError,
    ImportHtmlTemplate,
    RenameTemplate,
    RestoreVersion,
    SaveBrandKit,
    SaveReusableBlock,
    SaveTemplate,
    SetTemplateThumbnail,
    TemplateDeleted,
    TemplateSaved,
)
from app.modules.editor.module import MODULE
from app.modules.editor.starters import STARTERS
from tests.conftest import MemoryKeyring


def boot(folder: Path) -> Kernel:
    return start_kernel(AppPaths.inside(folder), modules=[MODULE], secrets_backend=MemoryKeyring(),
                        log_to_file=False)


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Kernel]:
    started = boot(tmp_path / "data")
    yield started
    started.close()


def events(kernel: Kernel) -> list[Event]:
    seen: list[Event] = []
    kernel.bus.subscribe(Event, seen.append)
    return seen


def doc(text: str) -> dict:  # type: ignore[type-arg]
    section = new_section(1)
    section.columns[0].blocks.append(new_block("text", html=f"<p>{text}</p>"))
    section.columns[0].blocks.append(new_block("footer"))
    return Document([section]).to_json()


def test_starters_are_seeded_once_and_not_again_after_deleting_them(tmp_path: Path) -> None:
    first = boot(tmp_path / "data")
    try:
        names = sorted(t.name for t in api.list_templates(first.db))
        assert names == sorted(STARTERS)
        for template in api.list_templates(first.db):
            first.bus.execute(DeleteTemplate(template_id=template.id))
    finally:
        first.close()
    again = boot(tmp_path / "data")
    try:
        assert api.list_templates(again.db) == []
    finally:
        again.close()


def test_every_save_is_a_new_version_and_restore_adds_one(kernel: Kernel) -> None:
    seen = events(kernel)
    original = doc("one")
    saved = kernel.bus.execute(SaveTemplate(template_id=None, name="Spring sale", document=original))
    second = kernel.bus.execute(SaveTemplate(template_id=saved.template_id, document=doc("two"), note="typo"))

    assert (saved.version, second.version) == (1, 2)
    assert [e for e in seen if isinstance(e, TemplateSaved)] == [
        TemplateSaved(template_id=saved.template_id, version=1, name="Spring sale"),
        TemplateSaved(template_id=saved.template_id, version=2, name="Spring sale")]

    restored = kernel.bus.execute(RestoreVersion(template_id=saved.template_id, version=1))

    assert restored.version == 3
    history = store.versions(kernel.db, saved.template_id)
    assert [(v.version, v.note, v.is_current) for v in history] == [
        (3, "restored version 1", True), (2, "typo", False), (1, "", False)]
    current = store.load_template(kernel.db, saved.template_id)
    assert current.version == 3
    assert current.document.to_json() == original
    assert "two" in str(store.load_template(kernel.db, saved.template_id, 2).document.to_json())
    assert ">one</p>" in (store.version_html(kernel.db, saved.template_id, 3) or "")


def test_names_are_unique_ignoring_case_and_bad_documents_are_refused(kernel: Kernel) -> None:
    kernel.bus.execute(SaveTemplate(template_id=None, name="Promo", document=doc("x")))
    with pytest.raises(EditorError, match="a template called 'PROMO' already exists"):
        kernel.bus.execute(SaveTemplate(template_id=None, name="PROMO", document=doc("y")))
    with pytest.raises(EditorError, match=r"Spacer.*Height"):
        kernel.bus.execute(SaveTemplate(template_id=None, name="Bad", document={"sections": [{"columns": [
            {"blocks": [{"type": "spacer", "props": {"height": 9999}}]}]}]}))
    with pytest.raises(EditorError, match="needs a name"):
        kernel.bus.execute(SaveTemplate(template_id=None, name="   ", document=doc("z")))
    assert api.find_template(kernel.db, "promo") is not None
    assert api.find_template(kernel.db, "Bad") is None


def test_duplicate_rename_delete_and_search(kernel: Kernel) -> None:
    seen = events(kernel)
    saved = kernel.bus.execute(SaveTemplate(template_id=None, name="Launch", document=doc("launch")))
    copy = kernel.bus.execute(DuplicateTemplate(template_id=saved.template_id))
    copy2 = kernel.bus.execute(DuplicateTemplate(template_id=saved.template_id))

    assert (copy.name, copy.version, copy2.name) == ("Launch (copy)", 1, "Launch (copy 2)")
    assert store.load_template(kernel.db, copy.template_id).document.to_json() == \
        store.load_template(kernel.db, saved.template_id).document.to_json()

    kernel.bus.execute(RenameTemplate(template_id=copy2.template_id, name="Launch B"))
    assert [t.name for t in api.list_templates(kernel.db, "launch b")] == ["Launch B"]
    assert sorted(t.name for t in api.list_templates(kernel.db, "LAUNCH")) == ["Launch", "Launch (copy)", "Launch B"]
    assert api.list_templates(kernel.db, "100%") == []

    assert kernel.bus.execute(DeleteTemplate(template_id=copy.template_id)) is True
    assert kernel.bus.execute(DeleteTemplate(template_id=copy.template_id)) is False
    assert TemplateDeleted(template_id=copy.template_id) in seen
    assert store.versions(kernel.db, copy.template_id) == []
    with pytest.raises(EditorError, match="no template with id"):
        api.compile_template(kernel.db, copy.template_id, subject="x")


def test_html_import_keeps_merge_tags_and_export_round_trips(kernel: Kernel, tmp_path: Path) -> None:
    page = ('<html><head><style>.x{color:#010203}</style></head><body><p class="x">Hi '
            '{{ contact.first_name | default("friend") }}</p><a href="{{ unsubscribe_url }}">bye</a>'
            "<p>{{ sender.postal_address }}</p></body></html>")
    saved = kernel.bus.execute(ImportHtmlTemplate(name="Imported", html=page))
    content = store.load_template(kernel.db, saved.template_id)
    assert [b.type for b in content.document.blocks()] == ["html"]

    compiled = api.compile_template(kernel.db, saved.template_id, subject="Hello {{ contact.first_name }}")
    message = compiled.render({"email": "a@b.c", "first_name": "Ann"}, **api.preview_values())
    assert '<p class="x" style="color: #010203;">Hi Ann</p>' in message.html
    assert message.subject == "Hello Ann"
    assert compiled.has_unsubscribe_link
    assert compiled.has_postal_address
    assert compiled.version_key == f"{saved.template_id}:1"

    again = kernel.bus.execute(ImportHtmlTemplate(name="Re-imported", html=compiled.html_source))
    round_trip = api.compile_template(kernel.db, again.template_id, subject="Hello")
    assert round_trip.render({"email": "a@b.c", "first_name": "Bo"}, **api.preview_values()).html.count("Hi Bo") == 1
    with pytest.raises(EditorError, match="empty"):
        kernel.bus.execute(ImportHtmlTemplate(name="Empty", html="  "))


def test_brand_kit_is_shared_and_validated(kernel: Kernel) -> None:
    seen = events(kernel)
    saved = kernel.bus.execute(SaveTemplate(template_id=None, name="Branded", document=doc("x")))
    kernel.bus.execute(SaveBrandKit(kit={"text_color": "#101010", "content_width": 640}))
    assert BrandKitChanged() in seen
    html = api.compile_template(kernel.db, saved.template_id, subject="x").render(
        {"email": "a@b.c"}, **api.preview_values()).html
    assert "color: #101010" in html
    assert 'width="640"' in html
    with pytest.raises(EditorError, match="text color must be a colour"):
        kernel.bus.execute(SaveBrandKit(kit={"text_color": "red"}))
    with pytest.raises(EditorError, match="unknown setting"):
        kernel.bus.execute(SaveBrandKit(kit={"sparkle": 1}))
    assert store.brand_kit(kernel.db).text_color == "#101010"


def test_reusable_blocks_and_thumbnails(kernel: Kernel, tmp_path: Path) -> None:
    block = new_block("button", text="Shop")
    block_id = kernel.bus.execute(SaveReusableBlock(name="Shop button", kind="block", content=block.to_json()))
    section = new_section(2)
    kernel.bus.execute(SaveReusableBlock(name="Two columns", kind="section", content=section.to_json()))
    assert [(b.name, b.kind) for b in store.saved_blocks(kernel.db)] == [("Shop button", "block"),
                                                                        ("Two columns", "section")]
    with pytest.raises(EditorError, match="cannot be saved"):
        kernel.bus.execute(SaveReusableBlock(name="Bad", kind="block", content={"type": "nope"}))
    assert kernel.bus.execute(DeleteReusableBlock(saved_block_id=block_id)) is True
    assert [b.name for b in store.saved_blocks(kernel.db)] == ["Two columns"]

    template = api.list_templates(kernel.db)[0]
    picture = store.thumbnail_file(kernel.paths.data_dir, template.id, template.current_version)
    kernel.bus.execute(SetTemplateThumbnail(template_id=template.id, version=template.current_version,
                                            path=str(picture)))
    assert api.list_templates(kernel.db)[0].thumbnail == picture


def test_pictures_are_copied_into_the_assets_folder(kernel: Kernel, tmp_path: Path) -> None:
    picture = tmp_path / "Photo.PNG"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    reference = store.add_asset(kernel.paths.data_dir, picture)
    assert reference.startswith("asset:")
    assert reference.endswith(".png")
    assert store.add_asset(kernel.paths.data_dir, picture) == reference
    stored = api.asset_file(kernel.paths.data_dir, reference.removeprefix("asset:"))
    assert stored is not None
    assert stored.read_bytes() == picture.read_bytes()
    assert api.asset_file(kernel.paths.data_dir, "../../etc/passwd") is None
    with pytest.raises(EditorError, match="not a picture"):
        store.add_asset(kernel.paths.data_dir, tmp_path / "notes.txt")
